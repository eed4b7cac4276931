"""Template filters for pages that show text from feeds."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import template

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
def short_authors(authors: list, limit: int = 6) -> str:
    names = [str(name) for name in authors or [] if name]
    if len(names) > limit:
        return f"{', '.join(names[:limit])} et al."
    return ", ".join(names)
