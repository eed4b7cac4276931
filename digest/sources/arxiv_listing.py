"""arXiv listing feeds (rss.arxiv.org/rss/<cats> and /atom/<cats>), the daily announcements.

Each description starts "arXiv:{id}v{n} Announce Type: {type} \\nAbstract: "; the guid is
"oai:arXiv.org:{id}v{n}"; ``dc:creator`` is one comma-joined string. The abstract is plain
text with TeX (XML-escaped, not HTML), so it is not entity-decoded a second time. An empty
feed (weekends, holidays) is normal.
"""

from __future__ import annotations

import datetime as dt
import re

from digest.sources.common import (
    Item,
    Parsed,
    clean_text,
    clean_url,
    from_struct,
    identify,
    read_feed,
    split_authors,
)

BASE_URL = "https://rss.arxiv.org/rss/"
_PREFIX = re.compile(r"^\s*arXiv:(\S+)\s+Announce Type:\s*(\S+)\s*(?:Abstract:\s*)?", re.IGNORECASE)
ANNOUNCE_TYPES = {"new", "cross", "replace", "replace-cross"}


def url(source, day: dt.date) -> str:
    """The source's URL, else the feed of ``params["categories"]`` (joined with "+")."""
    if source.url:
        return source.url
    categories = source.params.get("categories") or ["cs.LG"]
    if isinstance(categories, str):
        categories = categories.replace(",", " ").split()
    return BASE_URL + "+".join(categories)


def parse(body: bytes) -> Parsed:
    _feed, entries, result = read_feed(body)
    for position, entry in enumerate(entries, 1):
        result.add(position, lambda entry=entry: _item(entry))
    return result


def _item(entry) -> Item:
    description = entry.get("summary", "")
    prefix = _PREFIX.match(description)
    announce = (entry.get("arxiv_announce_type") or (prefix.group(2) if prefix else "")).lower()
    title = clean_text(entry.get("title"))
    key, arxiv_id, version = identify(
        title,
        ids=(entry.get("id"), prefix.group(1) if prefix else None),
        guid=entry.get("id", ""),
        link=entry.get("link", ""),
    )
    return Item(
        key=key,
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=clean_text(description[prefix.end() :] if prefix else description),
        authors=split_authors(entry.get("author", "")),
        categories=[
            clean_text(tag.get("term")) for tag in entry.get("tags", []) if tag.get("term")
        ],
        abs_url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else clean_url(entry.get("link")),
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}" if arxiv_id else "",
        published_at=from_struct(entry.get("published_parsed")),
        announce_type=announce if announce in ANNOUNCE_TYPES else "",
    )
