"""A paginator for the admin's big tables (papers, listings, email events).

Django's paginator runs ``SELECT COUNT(*)`` on every changelist page; on
PostgreSQL that reads the whole table once it holds millions of rows. When the
list is unfiltered and the planner's estimate says the table is big, the
estimate (``pg_class.reltuples``, kept fresh by autovacuum) is close enough to
number the pages. Filtered lists and small tables are counted exactly.
"""

from __future__ import annotations

from typing import cast

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.functional import cached_property

# Below this many rows an exact count is cheap and less surprising.
ESTIMATE_ABOVE = 100_000


def estimated_rows(model, using: str = "default") -> int | None:
    """The planner's row estimate for ``model``'s table, or None where there is none."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    # reltuples is -1 for a table never vacuumed or analysed.
    return row[0] if row and row[0] >= 0 else None


class LargeTablePaginator(Paginator):
    @cached_property
    def count(self) -> int:
        queryset = cast(QuerySet, self.object_list)  # the admin pages querysets
        if not queryset.query.has_filters():
            estimate = estimated_rows(queryset.model, queryset.db)
            if estimate is not None and estimate > ESTIMATE_ABOVE:
                return estimate
        return super().count


class BigTableAdmin(admin.ModelAdmin):
    """A changelist over a table that may hold millions of rows."""

    paginator = LargeTablePaginator
    show_full_result_count = False


def count_of(model, field: str, **filters) -> Coalesce:
    """A per-row count of ``model`` rows pointing at the row through ``field``:
    a correlated subquery, evaluated only for the rows of the page shown."""
    rows = (
        model.objects.filter(**{field: OuterRef("pk")}, **filters)
        .order_by()
        .values(field)
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)
