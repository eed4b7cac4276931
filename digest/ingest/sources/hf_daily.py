"""Hugging Face Daily Papers: the JSON of ``/api/daily_papers?date=YYYY-MM-DD``.

A JSON array of entries, each wrapping a ``paper`` whose ``id`` is the bare arXiv id.
Upvotes live on the paper, comments on the entry; the array is in upvote order, which is
the rank. The shape drifted between 2024 and 2026 (see tests/data); only fields present
in every version are relied on.
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

from digest.ingest.feedtext import plain
from digest.ingest.sources.common import (
    Item,
    Parsed,
    Rejected,
    clean_url,
    identify,
    local_date,
    most_common_day,
    parse_iso,
    to_int,
)

# The list is of one day, which the content names (see sources/__init__.py).
NAMES_ITS_DAY = True
# The URL holds the day, so another day's ETag / Last-Modified must not be sent.
DAY_IN_URL = True

BASE_URL = "https://huggingface.co/api/daily_papers"
MAX_SUMMARY = 600
MAX_KEYWORDS = 40
MAX_KEYWORD = 100


def url(source, day: dt.date) -> str:
    """The source's URL (or the public API) with ``date=`` for ``day``, and ``limit=100``
    (the largest page clients report; the default of 50 could cut a busy day short)."""
    base = source.url or BASE_URL
    query: dict[str, str | int] = {"date": day.isoformat()}
    if "limit=" not in base:
        query["limit"] = 100
    return f"{base}{'&' if '?' in base else '?'}{urlencode(query)}"


def parse(body: bytes) -> Parsed:
    result = Parsed()
    try:
        entries = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        result.error = f"not JSON: {error}"
        return result
    if isinstance(entries, dict) and "error" in entries:
        result.error = f"Hugging Face answered: {plain(entries['error'])[:300]}"
        return result
    if not isinstance(entries, list):
        result.error = "expected a JSON array of papers"
        return result
    for position, entry in enumerate(entries, 1):
        result.add(position, lambda entry=entry: _item(entry))
    # The day the entries were put on the Daily Papers page: ``submittedOnDailyAt`` since
    # 2025, the entry's own ``publishedAt`` before (then the paper's is its arXiv date).
    result.day = most_common_day(
        [local_date(_paper(entry).get("submittedOnDailyAt")) for entry in entries]
    ) or most_common_day(
        [local_date(entry.get("publishedAt")) for entry in entries if isinstance(entry, dict)]
    )
    return result


def _paper(entry: object) -> dict:
    paper = entry.get("paper") if isinstance(entry, dict) else None
    return paper if isinstance(paper, dict) else {}


def _keywords(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    words = (plain(word)[:MAX_KEYWORD] for word in value if isinstance(word, str))
    return list(dict.fromkeys(word for word in words if word))[:MAX_KEYWORDS]


def _stars(paper: dict) -> int | None:
    # Stars belong to the code link: none without one.
    stars = to_int(paper.get("githubStars")) if paper.get("githubRepo") else None
    return stars if stars is not None and stars >= 0 else None


def _item(entry: object) -> Item:
    if not isinstance(entry, dict):
        raise Rejected("not a JSON object")
    paper = _paper(entry)
    title = plain(paper.get("title") or entry.get("title"))
    # Only an arXiv id identifies an entry here: identify() rejects one without.
    key, arxiv_id, version = identify(title, ids=(str(paper.get("id") or ""),))
    authors = [
        plain(author.get("name"))
        for author in paper.get("authors") or []
        if isinstance(author, dict) and author.get("name")
    ]
    return Item(
        key=key,
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=plain(paper.get("summary") or entry.get("summary")),
        # 2026 on: an LLM's one-sentence summary (ai_summary) and keywords (ai_keywords).
        summary=plain(paper.get("ai_summary"))[:MAX_SUMMARY],
        keywords=_keywords(paper.get("ai_keywords")),
        authors=[name for name in authors if name],
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        hf_url=f"https://huggingface.co/papers/{arxiv_id}",
        code_url=clean_url(paper.get("githubRepo")),
        github_stars=_stars(paper),
        project_url=clean_url(paper.get("projectPage")),
        published_at=parse_iso(paper.get("publishedAt")),
        upvotes=to_int(paper.get("upvotes")) or 0,
        comments=to_int(entry.get("numComments")) or 0,
    )
