"""Any RSS or Atom feed, through feedparser (given bytes, never a URL).

Identity is an arXiv id found in the guid or link (so a feed of arXiv papers merges with
the arXiv and Hugging Face sources), else the guid, else the link. Descriptions are HTML
(RSS) or typed (Atom), so they are cleaned as such.
"""

from __future__ import annotations

import datetime as dt
import re

from digest.ingest.feedtext import is_code_url, plain
from digest.ingest.sources.common import (
    Item,
    Parsed,
    clean_url,
    from_struct,
    identify,
    split_authors,
)
from digest.ingest.sources.safexml import read_feed

# The content names no day of its own: a run lists it on the day it ran.
NAMES_ITS_DAY = False
DAY_IN_URL = False
# Feeds made from Hugging Face's Daily Papers put the paper's popularity in the description
# as a labelled count ("<p><b>Upvotes:</b> 52</p>"): a number to rank by, not abstract text.
# Only a count standing as its own field (the text ends or another "Label:" follows), so
# arXiv's "Comments: 12 pages, 5 figures" stays as written.
_COUNT = re.compile(r"(?:^|\s)(Upvotes|Comments):\s*(\d{1,9})(?=\s+[A-Z][a-z]*:|\s*$)")


def url(source, day: dt.date) -> str:
    if not source.url:
        raise ValueError(f"source {source.name!r} is an RSS/Atom feed with no URL")
    return source.url


def parse(body: bytes) -> Parsed:
    _feed, entries, result = read_feed(body)
    for position, entry in enumerate(entries, 1):
        result.add(position, lambda entry=entry: _item(entry))
    return result


def _item(entry) -> Item:
    title = plain(entry.get("title"))
    content = entry.get("content") or [{}]
    summary = entry.get("summary") or content[0].get("value", "")
    key, arxiv_id, version = identify(title, guid=entry.get("id", ""), link=entry.get("link", ""))
    authors = [plain(author.get("name")) for author in entry.get("authors", [])]
    if len(authors) == 1 and "," in authors[0]:
        authors = split_authors(authors[0])
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    link = clean_url(entry.get("link"))
    code = link if is_code_url(link) else ""
    abstract, counts = _take_counts(plain(summary))
    return Item(
        key=key,
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=[name for name in authors if name],
        categories=[plain(tag.get("term")) for tag in entry.get("tags", []) if tag.get("term")],
        # A feed whose link is the paper's repository gives its code, not its page.
        abs_url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else "" if code else link,
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}" if arxiv_id else "",
        code_url=code,
        published_at=from_struct(published),
        upvotes=counts.get("upvotes"),
        comments=counts.get("comments"),
    )


def _take_counts(text: str) -> tuple[str, dict[str, int]]:
    """The text without its labelled counts, and the counts ({"upvotes": 52})."""
    counts = {label.lower(): int(number) for label, number in _COUNT.findall(text)}
    return (" ".join(_COUNT.sub(" ", text).split()), counts) if counts else (text, counts)
