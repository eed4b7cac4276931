"""Read-only panels for admin change pages: a small table of recent related rows.

Inlines render every related row; a subscriber of two years has hundreds of
digests and a source thousands of runs, so change pages show the latest few
here and link to the filtered changelist for the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from django.contrib import admin
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString

RECENT = 20


def admin_link(obj, text: object | None = None) -> SafeString:
    """A link to ``obj``'s admin change page."""
    meta = obj._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if text is None else text)


def changelist_url(model, **filters: str | int) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    more_url: str | None = None,
    empty: str = "None yet.",
) -> SafeString:
    """An HTML table; cells are escaped unless already safe (links)."""
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((_shown(cell),) for cell in row)),) for row in rows),
    )
    if not body:
        return format_html("<p>{}</p>", empty)
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    more = format_html('<p><a href="{}">All of them &rarr;</a></p>', more_url) if more_url else ""
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}", head, body, more
    )


def _shown(cell: object) -> object:
    # A time as every admin page shows one (zone, no microseconds), not str(datetime).
    if isinstance(cell, dt.datetime):
        return formats.date_format(timezone.localtime(cell), "DATETIME_FORMAT")
    return cell


class ReadOnlyInline(admin.TabularInline):
    """Related rows shown as a record on a change page: no adding, editing or deleting."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False
