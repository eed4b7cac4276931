"""One module per Source.Kind, each with ``url(source, day) -> str``,
``parse(body: bytes) -> Parsed`` and two flags: ``NAMES_ITS_DAY`` (the content is one
day's list and says which day; the run lists its papers on that day, so a stale feed is not
mistaken for today's) and ``DAY_IN_URL`` (the URL changes with the day, so conditional GET
validators from another day are not sent). ``detect()`` tells a saved file's kind from its
content."""

from __future__ import annotations

from types import ModuleType

from digest.ingest.sources import arxiv_api, arxiv_listing, feed, hf_daily
from digest.models import Source

PARSERS: dict[str, ModuleType] = {
    Source.Kind.HF_DAILY: hf_daily,
    Source.Kind.ARXIV_LISTING: arxiv_listing,
    Source.Kind.ARXIV_API: arxiv_api,
    Source.Kind.FEED: feed,
}


def for_kind(kind: str) -> ModuleType:
    return PARSERS[kind]


def detect(body: bytes) -> str:
    """The Source.Kind whose parser suits ``body``: JSON is Hugging Face; XML with arXiv's
    announce types is a listing, an arXiv API answer is Atom with OpenSearch counts;
    anything else is read as a generic feed."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"[", b"{"):
        return Source.Kind.HF_DAILY
    if b"arxiv:announce_type" in body[:200_000] or b"rss.arxiv.org" in head:
        return Source.Kind.ARXIV_LISTING
    if b"opensearch" in head and b"arxiv" in head.lower():
        return Source.Kind.ARXIV_API
    return Source.Kind.FEED
