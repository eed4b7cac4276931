"""What every source parser shares: the parsed item, paper identity, clean text, dates.

No Django models here: a parser turns bytes into ``Parsed``; ``digest.ingest.store`` stores it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from digest.ingest.feedtext import plain, safe_url

# New-style ids (2401.12345, 0704.0001) and old-style ones (cs/0503050, math.GT/0309136).
_ID = r"(\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7})"
_BARE_ID = re.compile(rf"^(?:arxiv:|oai:arxiv\.org:)?{_ID}(?:v(\d+))?$", re.IGNORECASE)
_URL_ID = re.compile(
    rf"^https?://(?:www\.|export\.)?(?:arxiv\.org/(?:abs|pdf|html)|huggingface\.co/papers)/"
    rf"{_ID}(?:v(\d+))?(?:\.pdf)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)
MAX_KEY = 500
logger = logging.getLogger(__name__)


class Rejected(ValueError):
    """An item that cannot be stored; the message is the reason shown to the operator."""


@dataclass
class Item:
    """One paper as one source listed it. ``None`` popularity means "this source has none"."""

    key: str
    title: str
    arxiv_id: str = ""
    version: int | None = None
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    abs_url: str = ""
    pdf_url: str = ""
    code_url: str = ""
    project_url: str = ""
    hf_url: str = ""
    summary: str = ""
    keywords: list[str] = field(default_factory=list)
    github_stars: int | None = None
    published_at: dt.datetime | None = None
    upvotes: int | None = None
    comments: int | None = None
    announce_type: str = ""

    def __post_init__(self) -> None:
        # Hugging Face authors sometimes give the paper's own arXiv page as its
        # "project page"; a link that repeats another one is no project page.
        if self.project_url in (self.abs_url, self.pdf_url, self.hf_url, self.code_url):
            self.project_url = ""


@dataclass
class Parsed:
    items: list[Item] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    # The feed as a whole was malformed or reported an error (items may still be present).
    error: str = ""
    # The day the feed itself says it lists (arXiv announcement day, HF date), if any.
    day: dt.date | None = None

    def add(self, position: int, build) -> None:
        """Append ``build()``'s item, or record why item ``position`` was rejected.

        Any error reading one item rejects that item only: bad input never stops a run.
        """
        try:
            self.items.append(build())
        except Rejected as reason:
            self.rejected.append(f"item {position}: {reason}")
        except Exception as error:
            logger.warning("unreadable feed item %s", position, exc_info=True)
            self.rejected.append(f"item {position}: unreadable ({error.__class__.__name__})")


def arxiv_id(text: str | None) -> tuple[str, int | None] | None:
    """The bare arXiv id and version in ``text`` (an id, "arXiv:…", "oai:arXiv.org:…" or an
    arxiv.org / huggingface.co/papers URL), else None."""
    value = (text or "").strip()
    found = _BARE_ID.match(value) or _URL_ID.match(value)
    if not found:
        return None
    return found.group(1), int(found.group(2)) if found.group(2) else None


def identify(
    title: str, *, ids: tuple[str | None, ...] = (), guid: str = "", link: str = ""
) -> tuple[str, str, int | None]:
    """(key, arxiv_id, version) from the first arXiv id among ``ids``, ``guid``, ``link``;
    else the guid, else the link. Raises Rejected when there is no title or no identity."""
    if not title:
        raise Rejected(f"no title ({(guid or link or 'no identity')[:80]})")
    for candidate in (*ids, guid, link):
        found = arxiv_id(candidate)
        if found:
            return f"arxiv:{found[0]}", found[0], found[1]
    key = plain(guid) or safe_url(link)
    if not key:
        raise Rejected(f"no guid, link or arXiv id ({title[:80]!r})")
    if len(key) > MAX_KEY:
        raise Rejected(f"identity longer than {MAX_KEY} characters ({title[:80]!r})")
    return key, "", None


def clean_url(value: object) -> str:
    url = safe_url(value)
    return url if len(url) <= 500 else ""


# A comma outside parentheses, "and" between names, an affiliation at the end of a name.
_AUTHOR_COMMA = re.compile(r",(?![^()]*\))")
_AUTHOR_AND = re.compile(r"(?:^|\s+)and\s+")
_AFFILIATION = re.compile(r"\s*\([^()]*\)\s*$")


def split_authors(value: str) -> list[str]:
    """arXiv's comma-joined ``dc:creator``: "A, B, and C", "A and B", "A (Univ, Dept), B"."""
    out = []
    for name in _AUTHOR_COMMA.split(value):
        for part in _AUTHOR_AND.split(name.strip()):
            part = plain(_AFFILIATION.sub("", part))
            if part:
                out.append(part)
    return out


def to_int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]  # any value: int() refusing it is None
    except (TypeError, ValueError):
        return None


def parse_iso(value: object) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def from_struct(value: time.struct_time | None) -> dt.datetime | None:
    """feedparser's UTC ``*_parsed`` tuples as aware datetimes."""
    if not value:
        return None
    try:
        return dt.datetime(*value[:6], tzinfo=dt.UTC)
    except (TypeError, ValueError):
        return None


def parse_date(value: object) -> dt.datetime | None:
    """An RFC 822 (RSS) or ISO 8601 (Atom, JSON) timestamp as an aware datetime."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return parse_iso(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def local_date(value: object) -> dt.date | None:
    """The calendar date of a timestamp in its own offset (arXiv's "Mon, 27 Apr 2026
    00:00:00 -0400" is the 27th, though it is 04:00 UTC)."""
    moment = parse_date(value)
    return moment.date() if moment else None


def most_common_day(days: list[dt.date | None]) -> dt.date | None:
    counts = Counter(day for day in days if day)
    return counts.most_common(1)[0][0] if counts else None
