"""The operators' admin for topics, sources, papers, digests and deliverability.

Every changelist runs a fixed number of queries whatever its length: foreign
keys are joined (``list_select_related``), per-row counts are correlated
subqueries evaluated for the page's rows only, and the big tables neither
count their full length nor, when unfiltered, count at all (LargeTablePaginator).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import Subscriber
from digest import dashboard, matching, resend
from digest.admin_confirm import confirmed_action
from digest.admin_paging import LargeTablePaginator
from digest.admin_panels import RECENT, ReadOnlyInline, admin_link, changelist_url, table
from digest.models import (
    Digest,
    DigestItem,
    EmailEvent,
    Feedback,
    Listing,
    Paper,
    Source,
    SourceRun,
    Suppression,
    Topic,
)
from digest.topic_language import ARXIV_ID

PREVIEW_MATCHES = 10
# Django 6 will assume https for a URL typed without a scheme; do so already.
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


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


def log_change(request: HttpRequest, objects, message: str, flag: int = CHANGE) -> None:
    """One admin log line per object, as the admin writes for its own edits."""
    LogEntry.objects.log_actions(request.user.pk, list(objects), flag, change_message=message)


class BigTableAdmin(admin.ModelAdmin):
    """A changelist over a table that may hold millions of rows."""

    paginator = LargeTablePaginator
    show_full_result_count = False


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
    # A why reads 'label: "word", ...' and the label here is the query itself; a match on
    # a category, an author or a similar paper has no words of its own.
    if match.why == match.topic:
        return "its category, an author or a similar paper"
    return match.why.removeprefix(f"{match.topic}: ")


def topic_preview(query: str, topic: Topic | None = None) -> str:
    """The HTML of what ``query`` matches on the latest listed day, and who follows it."""
    context: dict = {"query": query, "day": dashboard.latest_day()}
    if topic is not None and topic.pk:
        context["followers"] = topic.subscribers.aggregate(
            total=Count("id"), active=Count("id", filter=Q(status=Subscriber.Status.ACTIVE))
        )
    if query.strip():
        try:
            found = matching.match_topic(query, day=context["day"]) if context["day"] else []
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
    def followers(self, topic: Topic) -> int:
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
        from digest.tasks import ingest_source_task

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
        if self.value():
            try:
                day = dt.date.fromisoformat(self.value())
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
    def listed(self, paper: Paper) -> int:
        return paper.listed

    @admin.display(description="in sent digests")
    def sent_in(self, paper: Paper) -> int:
        return paper.sent_in

    @admin.display(description="sent in")
    def sent_in_digests(self, paper: Paper) -> str:
        items = (
            paper.digest_items.filter(digest__status=Digest.Status.SENT)
            .select_related("digest__subscriber")
            .order_by("-digest__created_at")[:RECENT]
        )
        return table(
            ["Digest", "Rank", "Score", "Why"],
            ((admin_link(item.digest), item.rank, item.score, item.why) for item in items),
            empty="Not sent yet.",
        )


# Digests -------------------------------------------------------------------------------


class DigestItemInline(ReadOnlyInline):
    model = DigestItem
    fields = ["rank", "paper", "score", "why"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("paper")


class EmailEventInline(ReadOnlyInline):
    model = EmailEvent
    fields = ["event_type", "recipient", "timestamp", "received_at", "description"]


@admin.register(Digest)
class DigestAdmin(BigTableAdmin):
    list_display = [
        "subscriber",
        "edition",
        "status",
        "created_at",
        "sent_at",
        "attempts",
        "message_id",
    ]
    list_filter = ["status", "created_at"]
    list_select_related = ["subscriber"]
    search_fields = ["subscriber__email", "=message_id"]
    ordering = ["-created_at"]
    inlines = [DigestItemInline, EmailEventInline]
    actions = ["resend_failed"]

    def get_readonly_fields(self, request, obj=None):
        # Every field: a digest is a record of what happened, not something to edit.
        return [field.name for field in Digest._meta.concrete_fields if field.name != "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Resend selected failed digests", permissions=["change"])
    def resend_failed(self, request: HttpRequest, queryset) -> None:
        digests = list(queryset.select_related("subscriber"))
        now = timezone.now()
        for digest in digests:
            reason = resend.why_not_resendable(digest, now)
            if reason:
                self.message_user(request, f"Not resent: {digest}: {reason}.", messages.WARNING)
        counts = resend.resend_failed(digests, now)
        log_change(request, digests, "Resend requested.")
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        self.message_user(request, f"Resend: {summary or 'nothing to do'}.", messages.INFO)


# Deliverability ------------------------------------------------------------------------


class EventTypeFilter(admin.SimpleListFilter):
    """Anymail's normalized event types: a fixed list, no DISTINCT over the table."""

    title = "event type"
    parameter_name = "event_type"
    TYPES = ["bounced", "complained", "unsubscribed", "deferred", "rejected", "failed",
             "delivered", "opened", "clicked", "sent", "queued", "unknown"]  # fmt: skip

    def lookups(self, request, model_admin):
        return [(value, value) for value in self.TYPES]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


@admin.register(EmailEvent)
class EmailEventAdmin(BigTableAdmin):
    list_display = ["received_at", "event_type", "recipient", "digest_link", "short_description"]
    list_filter = [EventTypeFilter, "received_at"]
    search_fields = ["=recipient", "=message_id"]
    ordering = ["-received_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from the provider's webhooks only

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="digest")
    def digest_link(self, event: EmailEvent) -> str:
        if event.digest_id is None:
            return "-"
        url = reverse("admin:digest_digest_change", args=[event.digest_id])
        return format_html('<a href="{}">#{}</a>', url, event.digest_id)

    @admin.display(description="description")
    def short_description(self, event: EmailEvent) -> str:
        return event.description[:120]


class LiftForm(forms.Form):
    reactivate = forms.BooleanField(
        required=False,
        label="Also resume their digests",
        help_text="Only when the person asked for it. Otherwise they are marked unsubscribed "
        "and can sign up again themselves.",
    )


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["email", "reason", "created_at", "event"]
    list_filter = ["reason"]
    list_select_related = ["event"]
    search_fields = ["email"]
    ordering = ["-created_at"]
    raw_id_fields = ["event"]
    actions = ["lift"]

    def get_actions(self, request):
        # Lifting is deliberate: only through "lift", with its confirmation page.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_lift_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("digest.delete_suppression")

    @admin.action(description="Lift selected suppressions…", permissions=["lift"])
    def lift(self, request: HttpRequest, queryset):
        return confirmed_action(
            self,
            request,
            queryset,
            title="Lift suppressions",
            warning=(
                "These addresses bounced, complained or unsubscribed at the provider. Mailing "
                "them again can hurt this server's reputation with every mailbox provider. "
                "Lift a suppression only when you know the address works and its owner wants "
                "the emails."
            ),
            form_class=LiftForm,
            perform=self._lift,
        )

    def _lift(self, request: HttpRequest, queryset, form: LiftForm) -> None:
        suppressions = list(queryset)
        emails = [s.email for s in suppressions]
        log_change(request, suppressions, "Lifted the suppression.", DELETION)
        queryset.delete()
        held = Subscriber.objects.filter(email__in=emails, status=Subscriber.Status.SUPPRESSED)
        reactivate = form.cleaned_data["reactivate"]
        for subscriber in held:
            if reactivate:
                subscriber.status = Subscriber.Status.ACTIVE
                subscriber.soft_bounces = 0
                subscriber.schedule_next()
            else:
                subscriber.status = Subscriber.Status.UNSUBSCRIBED
                subscriber.unsubscribed_at = timezone.now()
                subscriber.next_send_at = None
            subscriber.save()
        self.message_user(
            request,
            f"Lifted {len(suppressions)} suppression(s); "
            f"{len(held)} subscriber(s) now {'active' if reactivate else 'unsubscribed'}.",
            messages.SUCCESS,
        )


@admin.register(Feedback)
class FeedbackAdmin(BigTableAdmin):
    list_display = ["created_at", "subscriber", "value", "paper"]
    list_filter = ["value"]
    list_select_related = ["subscriber", "paper"]
    search_fields = ["subscriber__email"]
    ordering = ["-created_at"]
    raw_id_fields = ["subscriber", "paper"]
