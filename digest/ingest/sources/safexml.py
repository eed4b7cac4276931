"""Reading XML feeds safely: defusedxml for every body, and no DOCTYPE left to expand.

Entity declarations (and so entity-expansion bombs, external and parameter entities) live
only in the DOCTYPE. ``safe_body`` turns a UTF-16 or UTF-32 body into UTF-8 (so a
DOCTYPE cannot hide from a byte pattern in another encoding), removes the DOCTYPE, and
has defusedxml's parser check the result: a body still declaring anything is refused.
``read_feed`` then hands the bytes to feedparser (any RSS/Atom, however loose); ``read_xml``
parses them with defusedxml's expat parser (arXiv listings, thousands of items, several
times faster than feedparser).
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import cast

import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

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


# Byte order marks and, without one, how "<?" starts in each encoding (XML 1.0, appendix F):
# (how the body starts, its encoding, whether that start is a mark to drop).
_WIDE = [
    (codecs.BOM_UTF32_BE, "utf-32-be", True),
    (codecs.BOM_UTF32_LE, "utf-32-le", True),
    (b"\x00\x00\x00<", "utf-32-be", False),
    (b"<\x00\x00\x00", "utf-32-le", False),
    (codecs.BOM_UTF16_BE, "utf-16-be", True),
    (codecs.BOM_UTF16_LE, "utf-16-le", True),
    (b"\x00<\x00?", "utf-16-be", False),
    (b"<\x00?\x00", "utf-16-le", False),
]
_DECLARED_ENCODING = re.compile(rb"""^(<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")


class Refused(ValueError):
    """A body that still declares entities or a DTD after cleaning: not parsed at all."""


def as_utf8(body: bytes) -> bytes:
    """``body`` in UTF-8 when it is UTF-16 or UTF-32 (with or without a byte order mark,
    its declaration saying so), else as it is: every other encoding a feed may use
    spells "<!DOCTYPE" in ASCII bytes."""
    for start, encoding, is_mark in _WIDE:
        if body.startswith(start):
            wide = body[len(start) :] if is_mark else body
            text = wide.decode(encoding, errors="replace").encode("utf-8")
            return _DECLARED_ENCODING.sub(rb"\1\2utf-8\2", text, count=1)
    return body.removeprefix(codecs.BOM_UTF8)


def safe_body(body: bytes) -> bytes:
    """``body`` in UTF-8, its DOCTYPE removed, checked by defusedxml: Refused when
    anything is still declared (an encoding that slipped past), so no parser, strict or
    lenient, ever sees an entity declaration or a reference to an external DTD."""
    body = strip_doctype(as_utf8(body))
    checker = DefusedXMLParser(target=_Nothing(), forbid_dtd=True)
    try:
        checker.feed(body)
        checker.close()
    except DefusedXmlException as exc:
        raise Refused(f"refused: the feed declares entities or a DTD ({exc})") from None
    except ET.ParseError:
        pass  # malformed or cut off: the readers keep what is complete
    return body


class _Nothing:
    """A parser target that builds nothing: the check only needs expat's events."""

    def start(self, tag, attrs):
        pass

    def end(self, tag):
        pass

    def data(self, data):
        pass

    def close(self):
        pass


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

    Sanitising is ours (plain/clean_url), so feedparser's is off: it mistakes TeX such
    as "$a<b$" for a tag. A truncated feed still gives its complete entries; feedparser's
    lenient parser also returns the one cut off mid-way, which is rejected here.
    """
    result = Parsed()
    try:
        body = safe_body(body)
    except Refused as exc:
        result.error = str(exc)
        return {}, [], result
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    problem = parsed.get("bozo_exception")
    # A wrong declared charset is recovered from without loss; not worth a warning.
    if parsed.get("bozo") and not isinstance(problem, feedparser.CharacterEncodingOverride):
        result.error = f"malformed feed: {problem}"
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

    defusedxml's expat parser, for formats we know well and that run to thousands of items
    (feedparser is several times slower); it refuses any DOCTYPE left, so nothing expands,
    is read or is fetched. Elements complete before a fault (a truncated feed) are kept.
    """
    parser = ET.XMLPullParser(
        events=("start", "end"),
        _parser=DefusedXMLParser(target=ET.TreeBuilder(), forbid_dtd=True),
    )
    root: ET.Element | None = None
    found: list[ET.Element] = []
    error = ""
    try:
        parser.feed(strip_doctype(as_utf8(body)))
        parser.close()  # a truncated document fails here
    except ET.ParseError as exc:
        error = f"malformed feed: {exc}"
    except DefusedXmlException as exc:
        return None, [], f"refused: the feed declares entities or a DTD ({exc})"
    try:
        # Only start and end events were asked for: each is an (event, element) pair.
        events = cast("Iterator[tuple[str, ET.Element]]", parser.read_events())
        for event, element in events:
            if root is None:
                root = element
            if event == "end" and element.tag in names:
                found.append(element)
    except ET.ParseError as exc:  # a fault inside the document is queued among the events
        error = f"malformed feed: {exc}"
    return root, found, error
