"""The arXiv API (export.arxiv.org/api/query): Atom with one entry per paper.

The entry ``id`` is the abstract URL with the version; ``arxiv:primary_category`` names
the primary category. An error comes back as a feed whose single entry is titled "Error"
(HTTP 400 today, 200 from older servers); no results is a feed with no entries.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from digest.ingest.feedtext import plain
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

BASE_URL = "http://export.arxiv.org/api/query"


def url(source, day: dt.date) -> str:
    """The source's URL, else a query from ``params``: "query" (arXiv search syntax, e.g.
    "cat:cs.LG AND abs:distillation"), "max_results" (default 100), newest first."""
    if source.url:
        return source.url
    params = source.params
    query = {
        "search_query": params.get("query") or "cat:cs.LG",
        "start": 0,
        "max_results": min(int(params.get("max_results") or 100), 2000),  # arXiv: 2000 a call
        "sortBy": params.get("sort_by") or "submittedDate",
        "sortOrder": "descending",
    }
    return f"{BASE_URL}?{urlencode(query)}"


def parse(body: bytes) -> Parsed:
    _feed, entries, result = read_feed(body)
    result.day = None  # a query's results span many days: the run's own day is used
    for position, entry in enumerate(entries, 1):
        if is_error(entry):
            result.error = f"arXiv API error: {plain(entry.get('summary'))[:300]}"
            continue
        result.add(position, lambda entry=entry: _item(entry))
    return result


def is_error(entry) -> bool:
    return entry.get("title") == "Error" and "/api/errors" in entry.get("id", "")


def _item(entry) -> Item:
    title = plain(entry.get("title"))
    key, arxiv_id, version = identify(title, guid=entry.get("id", ""), link=entry.get("link", ""))
    primary = (entry.get("arxiv_primary_category") or {}).get("term", "")
    terms = [tag.get("term") for tag in entry.get("tags", []) if tag.get("term")]
    categories = [plain(term) for term in dict.fromkeys([primary, *terms]) if term]
    pdf = next(
        (link.get("href") for link in entry.get("links", []) if link.get("title") == "pdf"), ""
    )
    authors = [plain(author.get("name")) for author in entry.get("authors", [])]
    if len(authors) == 1 and "," in authors[0]:
        authors = split_authors(authors[0])
    return Item(
        key=key,
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=plain(entry.get("summary")),
        authors=[name for name in authors if name],
        categories=categories,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else clean_url(entry.get("link")),
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}" if arxiv_id else clean_url(pdf),
        published_at=from_struct(entry.get("published_parsed")),
    )
