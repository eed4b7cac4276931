"""One module per Source.Kind, each with ``url(source, day) -> str`` and
``parse(body: bytes) -> Parsed``; ``detect()`` tells a saved file's kind from its content."""

from __future__ import annotations

from types import ModuleType

from digest.sources import arxiv_api, arxiv_listing, feed, hf_daily

PARSERS: dict[str, ModuleType] = {
    "hf_daily": hf_daily,
    "arxiv_listing": arxiv_listing,
    "arxiv_api": arxiv_api,
    "feed": feed,
}


def for_kind(kind: str) -> ModuleType:
    return PARSERS[kind]


def detect(body: bytes) -> str:
    """The Source.Kind whose parser suits ``body``: JSON is Hugging Face; XML with arXiv's
    announce types is a listing, an arXiv API answer is Atom with OpenSearch counts;
    anything else is read as a generic feed."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"[", b"{"):
        return "hf_daily"
    sample = body[:200_000]
    if b"arxiv:announce_type" in sample or b"rss.arxiv.org" in head:
        return "arxiv_listing"
    if b"opensearch" in head and b"arxiv" in head.lower():
        return "arxiv_api"
    return "feed"
