"""Template filters for pages that show text from feeds."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import template

from digest.ingest.feedtext import shorten_authors

register = template.Library()


@register.filter
def web_url(value: str) -> str:
    """The URL when it is http(s), else "": a feed may send javascript: or data: links,
    which escaping alone does not defuse inside href."""
    value = (value or "").strip()
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        return ""
    return value if scheme in ("http", "https") else ""


@register.filter
def short_authors(authors: object) -> str:
    """The authors as the digest email gives them: "A, B, C, … and 12 others"."""
    return shorten_authors(authors if isinstance(authors, list) else [])
