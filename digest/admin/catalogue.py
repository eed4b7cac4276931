"""The operators' admin for the catalogue and the papers: topics, sources, their runs, papers.

Every changelist runs a fixed number of queries whatever its length: foreign
keys are joined (``list_select_related``), per-row counts are correlated
subqueries evaluated for the page's rows only, and the big tables neither
count their full length nor, when unfiltered, count at all (LargeTablePaginator).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, TypedDict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.models import Subscriber
from digest import matching
from digest.admin.actions import log_change
from digest.admin.paging import BigTableAdmin, count_of
from digest.admin.panels import RECENT, ReadOnlyInline, admin_link, changelist_url, table
from digest.daily import latest_day
from digest.models import (
    Digest,
    DigestItem,
    Listing,
    Paper,
    Source,
    SourceRun,
    Topic,
)
from digest.search.language import ARXIV_ID
from digest.tasks import ingest_source_task

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


# What the admins' get_queryset annotates their rows with.
class _Followers(TypedDict):
    followers: int


class _PaperCounts(TypedDict):
    listed: int
    sent_in: int


PREVIEW_MATCHES = 10
# Django 6 will assume https for a URL typed without a scheme; do so already.
URL_FIELDS: dict[type[models.Field], dict[str, str]] = {models.URLField: {"assume_scheme": "https"}}


# Topics --------------------------------------------------------------------------------


class TopicForm(forms.ModelForm):
    class Meta:
        model = Topic
        fields = ["name", "description", "query", "public", "order"]
        widgets = {"query": forms.TextInput(attrs={"size": 90})}

    def clean_query(self) -> str:
        query = self.cleaned_data["query"]
        try:
            matching.check_topic(query)
        except matching.TopicSyntaxError as exc:
            raise ValidationError(str(exc)) from None
        return query


def _matched_words(match: matching.Match) -> str:
    if match.kind == "meaning":
        return f'by meaning: "{match.sentence}"' if match.sentence else "by meaning"
    if match.terms:
        return ", ".join(f'"{term}"' for term in match.terms[:4])
    return "its category, an author or a similar paper"  # no words of its own


def topic_preview(query: str, topic: Topic | None = None) -> str:
    """The HTML of what ``query`` matches on the latest listed day, and who follows it."""
    context: dict = {"query": query, "day": latest_day()}
    if topic is not None and topic.pk:
        context["followers"] = topic.subscribers.aggregate(
            total=Count("id"), active=Count("id", filter=Q(status=Subscriber.Status.ACTIVE))
        )
    if query.strip():
        try:
            about = topic.about if topic is not None and topic.name else ""
            day = context["day"]
            found = matching.match_topic(query, day=day, about=about) if day else []
        except matching.TopicSyntaxError as exc:
            context["error"] = str(exc)
        else:
            shown = [(m, _matched_words(m)) for m in found[:PREVIEW_MATCHES]]
            context.update(matches=shown, total=len(found))
    return render_to_string("admin/digest/topic/preview.html", context)


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    form = TopicForm
    list_display = ["name", "query", "public", "order", "followers"]
    list_editable = ["public", "order"]
    list_filter = ["public"]
    search_fields = ["name", "description", "query"]
    readonly_fields = ["preview"]
    fieldsets = [
        (None, {"fields": ["name", "description", "query", "public", "order"]}),
        ("What it finds", {"fields": ["preview"]}),
    ]

    class Media:
        js = ["paperwire_admin/topic_preview.js"]
        css = {"all": ["paperwire_admin/admin.css"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(followers=count_of(Topic.subscribers.through, "topic"))
        )

    @admin.display(description="followers", ordering="followers")
    def followers(self, topic: WithAnnotations[Topic, _Followers]) -> int:
        return topic.followers

    @admin.display(description="matches on the latest day")
    def preview(self, topic: Topic | None) -> str:
        url = reverse("admin:digest_topic_preview")
        params = f"?topic={topic.pk}" if topic and topic.pk else ""
        return format_html(
            '<div id="pw-topic-preview" data-url="{}">{}</div>'
            '<button type="button" class="button" id="pw-topic-preview-button">'
            "Preview the query as typed</button>",
            url + params,
            topic_preview(topic.query if topic else "", topic),
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.preview_view)
        return [path("preview/", view, name="digest_topic_preview"), *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """GET ?query=...&topic=id: the preview panel for a query not yet saved."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        topic_id = request.GET.get("topic", "")
        topic = Topic.objects.filter(pk=int(topic_id)).first() if topic_id.isdigit() else None
        return HttpResponse(topic_preview(request.GET.get("query", ""), topic))


# Sources -------------------------------------------------------------------------------


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    list_display = [
        "name",
        "kind",
        "enabled",
        "last_run_at",
        "last_status",
        "last_counts",
        "short_error",
    ]
    list_filter = ["kind", "enabled", "last_status"]
    search_fields = ["name", "url"]
    actions = ["fetch_now"]
    readonly_fields = [
        "last_run_at",
        "last_status",
        "last_counts",
        "last_error",
        "etag",
        "last_modified",
        "recent_runs",
    ]
    fieldsets = [
        (None, {"fields": ["name", "kind", "url", "params", "enabled"]}),
        ("Last run", {"fields": ["last_run_at", "last_status", "last_counts", "last_error"]}),
        ("Runs", {"fields": ["recent_runs"]}),
        ("Conditional GET", {"fields": ["etag", "last_modified"], "classes": ["collapse"]}),
    ]

    @admin.display(description="last error")
    def short_error(self, source: Source) -> str:
        return source.last_error[:120]

    @admin.display(description="latest runs")
    def recent_runs(self, source: Source) -> str:
        runs = source.runs.order_by("-started_at")[:RECENT] if source.pk else []
        return table(
            ["Day", "Started", "Finished", "Status", "New", "Updated", "Rejected", "Error"],
            (
                (
                    admin_link(run, run.day),
                    run.started_at,
                    run.finished_at or "",
                    run.get_status_display(),
                    run.new,
                    run.updated,
                    run.rejected,
                    run.error[:120],
                )
                for run in runs
            ),
            more_url=changelist_url(SourceRun, source__id__exact=source.pk) if source.pk else None,
            empty="Never run.",
        )

    class Media:
        css = {"all": ["paperwire_admin/admin.css"]}  # the change page's "Fetch now" button

    def get_urls(self):
        view = self.admin_site.admin_view(self.fetch_view)
        return [
            path("<path:object_id>/fetch/", view, name="digest_source_fetch"),
            *super().get_urls(),
        ]

    def fetch_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST from the change page's "Fetch now" button: the list action, for one source."""
        if request.method != "POST":  # a link scanner or prefetch must not start a fetch
            return HttpResponseNotAllowed(["POST"])
        source = self.get_object(request, object_id)
        if source is None:
            raise Http404("No such source")
        if not self.has_change_permission(request, source):
            raise PermissionDenied
        self.fetch_now(request, Source.objects.filter(pk=source.pk))
        return redirect(reverse("admin:digest_source_change", args=[source.pk]))

    @admin.action(description="Fetch now", permissions=["change"])
    def fetch_now(self, request: HttpRequest, queryset) -> None:
        sources = list(queryset)
        for source in sources:
            ingest_source_task.delay(source.pk)
        log_change(request, sources, "Queued a fetch now.")
        self.message_user(
            request,
            f"Queued {len(sources)} source(s) for fetching; their runs appear below when done.",
            messages.SUCCESS,
        )


@admin.register(SourceRun)
class SourceRunAdmin(admin.ModelAdmin):
    list_display = [
        "source",
        "day",
        "started_at",
        "finished_at",
        "status",
        "new",
        "updated",
        "unchanged",
        "rejected",
        "short_error",
    ]
    list_filter = ["status", "source", "day"]
    list_select_related = ["source"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are written by ingest only

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="error")
    def short_error(self, run: SourceRun) -> str:
        return run.error[:120]


# Papers --------------------------------------------------------------------------------


class ListedDayFilter(admin.SimpleListFilter):
    """The last fortnight of listed days (the full list of days grows forever)."""

    title = "listed on"
    parameter_name = "listed_on"

    def lookups(self, request, model_admin):
        days = Listing.objects.order_by("-day").values_list("day", flat=True).distinct()[:14]
        return [(day.isoformat(), day.isoformat()) for day in days]

    def queryset(self, request, queryset):
        if value := self.value():
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                return queryset.none()
            return queryset.filter(listings__day=day)
        return queryset


class ListingInline(ReadOnlyInline):
    model = Listing
    fields = ["day", "source", "rank", "upvotes", "comments", "announce_type"]
    ordering = ["-day"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source")


@admin.register(Paper)
class PaperAdmin(BigTableAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ["title_short", "arxiv_id", "first_seen_at", "upvotes", "listed", "sent_in"]
    # Not RelatedOnlyFieldListFilter: that would scan every listing for the sources in use.
    list_filter = [("listings__source", admin.RelatedFieldListFilter), ListedDayFilter]
    search_fields = ["title", "authors", "=arxiv_id", "=key"]
    ordering = ["-first_seen_at"]
    inlines = [ListingInline]
    readonly_fields = ["key", "first_seen_at", "updated_at", "sent_in_digests"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                listed=count_of(Listing, "paper"),
                sent_in=count_of(DigestItem, "paper", digest__status=Digest.Status.SENT),
            )
        )

    def get_search_results(self, request, queryset, search_term):
        # "arXiv:2401.12345v2", as people paste it, finds 2401.12345.
        found = ARXIV_ID.fullmatch(search_term.strip())
        if found:
            return queryset.filter(arxiv_id=found.group(1)), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="title")
    def title_short(self, paper: Paper) -> str:
        return paper.title[:100]

    @admin.display(description="listings")
    def listed(self, paper: WithAnnotations[Paper, _PaperCounts]) -> int:
        return paper.listed

    @admin.display(description="in sent digests")
    def sent_in(self, paper: WithAnnotations[Paper, _PaperCounts]) -> int:
        return paper.sent_in

    def get_readonly_fields(self, request, obj=None):
        # Whom a paper went to is subscribers' data: addresses only for staff who may
        # view subscribers, digest numbers for the others.
        if request.user.has_perm("accounts.view_subscriber"):
            return self.readonly_fields
        return [
            "sent_in_editions" if name == "sent_in_digests" else name
            for name in self.readonly_fields
        ]

    @admin.display(description="sent in")
    def sent_in_digests(self, paper: Paper) -> str:
        return _sent_in(paper, lambda digest: admin_link(digest))

    @admin.display(description="sent in")
    def sent_in_editions(self, paper: Paper) -> str:
        return _sent_in(paper, lambda digest: admin_link(digest, f"#{digest.pk} {digest.edition}"))


def _sent_in(paper: Paper, link) -> str:
    items = (
        paper.digest_items.filter(digest__status=Digest.Status.SENT)
        .select_related("digest__subscriber")
        .order_by("-digest__created_at")[:RECENT]
    )
    return table(
        ["Digest", "Rank", "Score", "Why"],
        ((link(item.digest), item.rank, item.score, item.why) for item in items),
        empty="Not sent yet.",
    )


# Digests -------------------------------------------------------------------------------
