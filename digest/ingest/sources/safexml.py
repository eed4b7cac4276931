"""Reading XML feeds safely: the DOCTYPE removed before any parser sees the bytes.

Entity declarations (and so entity-expansion bombs, external and parameter entities) live
only in the DOCTYPE, so without it no parser can expand, read or fetch anything.
``read_feed`` hands the bytes to feedparser (any RSS/Atom, however loose); ``read_xml`` to
the standard library's expat (arXiv listings, thousands of items, several times faster).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import feedparser

from digest.ingest.sources.common import Parsed, local_date, most_common_day

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
# A whole declaration: name and external id, then an optional [internal subset] in which
# "]" or ">" inside quotes or comments does not count. Possessive, so it never backtracks.
_DECLARATION = re.compile(
    rb"""<!DOCTYPE(?:[^\[>"']++|"[^"]*+"|'[^']*+')*+"""
    rb"""(?:\[(?:[^\]"'<]++|"[^"]*+"|'[^']*+'|<!--(?:[^-]++|-(?!->))*+-->|<(?!!--))*+\])?+"""
    rb"""\s*+>""",
    re.IGNORECASE,
)


def strip_doctype(body: bytes) -> bytes:
    """``body`` without any <!DOCTYPE …> declaration, internal subset included.

    Entity declarations (and so entity-expansion bombs, external and parameter entities)
    live only there, so without them no XML parser can expand, read or fetch anything. A
    declaration that does not end cleanly swallows the rest of the body: better no items
    than an entity. Linear time, whatever the body.
    """
    body = _DECLARATION.sub(b"", body)
    unfinished = _DOCTYPE.search(body)
    return body[: unfinished.start()] if unfinished else body


def read_feed(body: bytes) -> tuple[dict, list, Parsed]:
    """Parse XML ``body`` (bytes, never a URL) with feedparser: the feed header, its
    complete entries, and a Parsed holding the feed's error text and day.

    Sanitising is ours (clean_text/clean_url), so feedparser's is off: it mistakes TeX such
    as "$a<b$" for a tag. A truncated feed still gives its complete entries; feedparser's
    lenient parser also returns the one cut off mid-way, which is rejected here.
    """
    parsed = feedparser.parse(strip_doctype(body), sanitize_html=False, resolve_relative_uris=False)
    result = Parsed()
    exc = parsed.get("bozo_exception")
    # A wrong declared charset is recovered from without loss; not worth a warning.
    if parsed.get("bozo") and not isinstance(exc, feedparser.CharacterEncodingOverride):
        result.error = f"malformed feed: {exc}"
    entries = list(parsed.entries)
    if entries and body.count(b"</item>") + body.count(b"</entry>") < len(entries):
        entries.pop()
        result.rejected.append(f"item {len(entries) + 1}: cut off where the feed ends")
    dates = [local_date(entry.get("published")) for entry in entries]
    result.day = local_date(parsed.feed.get("published")) or most_common_day(dates)
    return parsed.feed, entries, result


def read_xml(body: bytes, names: set[str]) -> tuple[ET.Element | None, list[ET.Element], str]:
    """The root and the complete elements named in ``names`` (Clark notation), in document
    order, of XML ``body`` with its DOCTYPE removed, and an error text if it is malformed.

    expat through the standard library, for formats we know well and that run to
    thousands of items (feedparser is several times slower). With no DOCTYPE, nothing can
    be declared, so nothing expands, is read or is fetched. Elements complete before a
    fault (a truncated feed) are kept.
    """
    parser = ET.XMLPullParser(events=("start", "end"))
    root, found, error = None, [], ""
    parser.feed(strip_doctype(body))
    try:
        parser.close()  # a truncated document fails here
    except ET.ParseError as exc:
        error = f"malformed feed: {exc}"
    try:
        for event, element in parser.read_events():
            if root is None:
                root = element
            if event == "end" and element.tag in names:
                found.append(element)
    except ET.ParseError as exc:  # a fault inside the document is queued among the events
        error = f"malformed feed: {exc}"
    return root, found, error
