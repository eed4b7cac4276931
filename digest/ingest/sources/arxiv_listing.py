"""arXiv listing feeds (rss.arxiv.org/rss/<cats> and /atom/<cats>), the daily announcements.

Each description starts "arXiv:{id}v{n} Announce Type: {type} \\nAbstract: "; the guid is
"oai:arXiv.org:{id}v{n}"; ``dc:creator`` is one comma-joined string. The abstract is plain
text with TeX (XML-escaped, not HTML), so it is not entity-decoded a second time. An empty
feed (weekends, holidays) is normal. A busy day has thousands of items, so the XML is read
with the standard library's expat (see ``read_xml``) rather than feedparser.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from digest.ingest.feedtext import plain
from digest.ingest.sources.common import (
    Item,
    Parsed,
    clean_url,
    identify,
    local_date,
    parse_date,
    split_authors,
)
from digest.ingest.sources.safexml import read_xml

# The list is of one day, which the content names (see sources/__init__.py).
NAMES_ITS_DAY = True
DAY_IN_URL = False

BASE_URL = "https://rss.arxiv.org/rss/"
ANNOUNCE_TYPES = {"new", "cross", "replace", "replace-cross"}
_PREFIX = re.compile(r"^\s*arXiv:(\S+)\s+Announce Type:\s*(\S+)\s*(?:Abstract:\s*)?", re.I)
_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV = "{http://arxiv.org/schemas/atom}"
_DC = "{http://purl.org/dc/elements/1.1/}"


def url(source, day: dt.date) -> str:
    """The source's URL, else the feed of ``params["categories"]`` (joined with "+")."""
    if source.url:
        return source.url
    categories = source.params.get("categories") or ["cs.LG"]
    if isinstance(categories, str):
        categories = categories.replace(",", " ").split()
    return BASE_URL + "+".join(categories)


def parse(body: bytes) -> Parsed:
    root, elements, error = read_xml(body, {"item", f"{_ATOM}entry"})
    result = Parsed(error=error)
    for position, element in enumerate(elements, 1):
        result.add(position, lambda element=element: _item(element))
    channel_date = root.findtext("channel/pubDate") if root is not None else None
    dates = [local_date(_text(element, "pubDate", "published")) for element in elements]
    result.day = local_date(channel_date) or next((day for day in dates if day), None)
    return result


def _text(element: ET.Element, *names: str) -> str:
    """The content of the first child named in ``names`` (RSS name, then Atom name). A child
    holding elements (never so in arXiv's feeds) is returned as markup, for plain() to
    drop <script> and the like with their content rather than keep it as text."""
    for name in names:
        child = element.find(name)
        if child is None and not name.startswith("{"):
            child = element.find(f"{_ATOM}{name}")
        if child is not None:
            inner = "".join(ET.tostring(sub, encoding="unicode") for sub in child)
            return (child.text or "") + inner
    return ""


def _item(element: ET.Element) -> Item:
    description = _text(element, "description", "summary")
    prefix = _PREFIX.match(description)
    announce = _text(element, f"{_ARXIV}announce_type") or (prefix.group(2) if prefix else "")
    announce = announce.strip().lower()
    guid = _text(element, "guid", "id")
    link = _text(element, "link") or _atom_link(element)
    title = plain(_text(element, "title"))
    key, arxiv_id, version = identify(
        title, ids=(guid, prefix.group(1) if prefix else None), guid=guid, link=link
    )
    categories = [c.text or "" for c in element.findall("category")]
    categories += [c.get("term", "") for c in element.findall(f"{_ATOM}category")]
    return Item(
        key=key,
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=plain(description[prefix.end() :] if prefix else description),
        authors=split_authors(_text(element, f"{_DC}creator")),
        categories=[plain(c) for c in categories if c.strip()],
        abs_url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else clean_url(link),
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}" if arxiv_id else "",
        published_at=parse_date(_text(element, "pubDate", "published")),
        announce_type=announce if announce in ANNOUNCE_TYPES else "",
    )


def _atom_link(element: ET.Element) -> str:
    for link in element.findall(f"{_ATOM}link"):
        if link.get("rel", "alternate") == "alternate":
            return link.get("href", "")
    return ""
