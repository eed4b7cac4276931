"""The admin for staff logins and subscribers.

Subscriber actions and the status field call the same functions as the subscriber's own
pages (``accounts.lifecycle``, ``accounts.subscription``, ``accounts.emails``) and
delivery's preview and test send, so an operator's "pause" is exactly the subscriber's
"pause".
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import DELETION
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_sameorigin

from accounts import emails, lifecycle, subscription
from accounts.forms import TopicLinesField
from accounts.models import Consent, Subscriber, User
from accounts.schedule import is_valid_time_zone
from accounts.signup import is_suppressed
from digest.admin.actions import confirmed_action, log_change
from digest.admin.paging import LargeTablePaginator, count_of
from digest.admin.panels import RECENT, ReadOnlyInline, admin_link, changelist_url, table
from digest.mail.delivery import NothingToSend, preview_digest, send_test_digest
from digest.models import Digest, DigestItem, EmailEvent, Feedback

# "Send a test digest now" mails the operator once per subscriber selected.
MAX_TEST_SENDS = 10
SCHEDULE_FIELDS = ("frequency", "weekday", "send_hour", "time_zone")
# The subscriber's own columns the change form edits (topics are saved by save_related).
EDITED_FIELDS = {"email", "own_topics", *SCHEDULE_FIELDS, "max_papers", "min_score"}


# Staff logins --------------------------------------------------------------------------


class StaffCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class StaffChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = StaffChangeForm
    add_form = StaffCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = ("email", "first_name", "last_name", "is_staff", "is_superuser", "last_login")
    search_fields = ("email", "first_name", "last_name")
    ordering = ("email",)


# Subscribers ---------------------------------------------------------------------------


class SubscriberForm(forms.ModelForm):
    # Not the model's field: a status changes only through accounts.lifecycle (see
    # save_model), so the form offers the statuses one transition reaches from the current.
    status = forms.ChoiceField()
    # The status the page showed: a save that leaves the field as shown changes no status,
    # even when a bounce or the subscriber changed it after the page was opened.
    status_shown = forms.CharField(widget=forms.HiddenInput, required=False)
    own_topics = TopicLinesField(
        required=False, help_text=Subscriber._meta.get_field("own_topics").help_text
    )

    class Meta:
        model = Subscriber
        fields = [
            "email",
            "topics",
            "own_topics",
            "frequency",
            "weekday",
            "send_hour",
            "time_zone",
            "max_papers",
            "min_score",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.status  # a new subscriber starts pending
        labels = dict(Subscriber.Status.choices)
        status = cast(forms.ChoiceField, self.fields["status"])  # the model field's choices
        status.choices = [(s, labels[s]) for s in lifecycle.reachable(current)]
        status.initial = self.fields["status_shown"].initial = current

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"]
        if not is_valid_time_zone(name):
            raise ValidationError(f"{name!r} is not a time zone name such as Europe/Paris.")
        return name

    def status_wanted(self) -> str | None:
        """The status the operator chose, or None when they left it as shown."""
        wanted = self.cleaned_data["status"]
        return None if wanted == self.cleaned_data.get("status_shown") else wanted


class ConsentInline(ReadOnlyInline):
    model = Consent
    fields = ["action", "created_at", "ip_address", "user_agent", "form_version"]


class TimeZoneFilter(admin.SimpleListFilter):
    """The time zones subscribers use (one DISTINCT on an indexed column)."""

    title = "time zone"
    parameter_name = "time_zone"

    def lookups(self, request, model_admin):
        zones = Subscriber.objects.order_by("time_zone").values_list("time_zone", flat=True)
        return [(zone, zone) for zone in zones.distinct()]

    def queryset(self, request, queryset):
        return queryset.filter(time_zone=self.value()) if self.value() else queryset


def csv_safe(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would start a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


EXPORT_COLUMNS = [
    "email",
    "status",
    "frequency",
    "weekday",
    "send_hour",
    "time_zone",
    "max_papers",
    "topics",
    "own_topics",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
]


def export_rows(queryset) -> Iterator[list[str]]:
    yield EXPORT_COLUMNS
    for s in queryset.prefetch_related("topics").order_by("pk").iterator(chunk_size=1000):
        yield [
            csv_safe(value)
            for value in (
                s.email,
                s.status,
                s.frequency,
                s.get_weekday_display(),
                s.send_hour,
                s.time_zone,
                s.max_papers,
                "; ".join(topic.name for topic in s.topics.all()),
                "; ".join(s.own_topic_lines),
                s.created_at.isoformat(),
                s.confirmed_at.isoformat() if s.confirmed_at else "",
                s.unsubscribed_at.isoformat() if s.unsubscribed_at else "",
            )
        ]


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberForm
    # The form's status is its own field: excluded from the model fields, or the admin
    # (which builds the form from the fieldsets) would copy it onto the instance.
    exclude = ["status"]
    list_display = [
        "email",
        "status",
        "frequency",
        "send_hour",
        "time_zone",
        "next_send_at",
        "created_at",
        "confirmed_at",
    ]
    list_filter = ["status", "frequency", "topics", TimeZoneFilter]
    search_fields = ["email"]
    ordering = ["-pk"]
    paginator = LargeTablePaginator
    show_full_result_count = False
    filter_horizontal = ["topics"]
    inlines = [ConsentInline]
    actions = [
        "resend_confirmation",
        "pause",
        "resume",
        "send_test_digest",
        "export_csv",
        "erase",
    ]
    readonly_fields = [
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "confirmation_sent_at",
        "next_send_at",
        "soft_bounces",
        "recent_digests",
        "recent_feedback",
        "recent_events",
    ]
    fieldsets = [
        (None, {"fields": ["email", "status", "status_shown"]}),
        ("Topics", {"fields": ["topics", "own_topics"]}),
        (
            "Schedule",
            {
                "fields": [
                    "frequency",
                    "weekday",
                    "send_hour",
                    "time_zone",
                    "max_papers",
                    "min_score",
                    "next_send_at",
                ]
            },
        ),
        (
            "Record",
            {
                "fields": [
                    "created_at",
                    "confirmed_at",
                    "unsubscribed_at",
                    "confirmation_sent_at",
                    "soft_bounces",
                ]
            },
        ),
        ("Digests", {"fields": ["recent_digests"]}),
        ("Feedback", {"fields": ["recent_feedback"]}),
        ("Email events", {"fields": ["recent_events"]}),
    ]

    class Media:
        css = {"all": ["paperwire_admin/admin.css"]}

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # the history panels have nothing to show yet
            return self.fieldsets[:3]
        return self.fieldsets

    def save_model(self, request, obj: Subscriber, form, change) -> None:
        """Save the edited fields only (a status changed meanwhile, by a bounce or the
        subscriber, stays), then take the chosen status through its lifecycle transition,
        which also keeps the schedule in step, as the subscriber's own pages do."""
        if change:
            edited = [name for name in form.changed_data if name in EDITED_FIELDS]
            if edited:
                obj.save(update_fields=edited)
        else:
            obj.save()  # a new subscriber is inserted pending, then moved like anyone
        wanted = form.status_wanted()
        if wanted is not None and wanted != obj.status:
            if not lifecycle.move_to(obj, wanted):
                self.message_user(
                    request,
                    f"{obj.email} was not made {wanted}: their status changed meanwhile.",
                    messages.WARNING,
                )
        elif change and set(SCHEDULE_FIELDS) & set(form.changed_data):
            lifecycle.reschedule([obj])

    # History panels on the change page --------------------------------------------------

    @admin.display(description="latest digests")
    def recent_digests(self, subscriber: Subscriber) -> str:
        digests = subscriber.digests.annotate(papers_count=count_of(DigestItem, "digest")).order_by(
            "-edition"
        )[:RECENT]
        return table(
            ["Edition", "Status", "Papers", "Sent", "Subject", "Error"],
            (
                (
                    admin_link(d, d.edition),
                    d.get_status_display(),
                    d.papers_count,
                    d.sent_at or "",
                    d.subject,
                    d.error[:120],
                )
                for d in digests
            ),
            more_url=changelist_url(Digest, subscriber__id__exact=subscriber.pk),
        )

    @admin.display(description="latest feedback")
    def recent_feedback(self, subscriber: Subscriber) -> str:
        votes = subscriber.feedback.select_related("paper").order_by("-created_at")[:RECENT]
        return table(
            ["When", "Vote", "Paper"],
            ((v.created_at, v.get_value_display(), admin_link(v.paper)) for v in votes),
            more_url=changelist_url(Feedback, subscriber__id__exact=subscriber.pk),
        )

    @admin.display(description="latest events from the provider")
    def recent_events(self, subscriber: Subscriber) -> str:
        events = EmailEvent.objects.filter(recipient=subscriber.email).order_by("-received_at")
        return table(
            ["Received", "Type", "Digest", "Description"],
            (
                (e.received_at, e.event_type, e.digest_id or "", e.description[:120])
                for e in events[:RECENT]
            ),
            more_url=changelist_url(EmailEvent, q=subscriber.email),
        )

    # Actions ----------------------------------------------------------------------------

    @admin.action(description="Resend the confirmation email", permissions=["change"])
    def resend_confirmation(self, request: HttpRequest, queryset) -> None:
        sent = []
        for subscriber in queryset.filter(status=Subscriber.Status.PENDING):
            if is_suppressed(subscriber.email):
                continue
            emails.send_confirmation(subscriber)
            Subscriber.objects.filter(pk=subscriber.pk).update(confirmation_sent_at=timezone.now())
            sent.append(subscriber)
        log_change(request, sent, "Resent the confirmation email.")
        skipped = queryset.count() - len(sent)
        self.message_user(
            request,
            f"Sent {len(sent)} confirmation email(s)"
            + (f"; {skipped} skipped (not pending, or suppressed)." if skipped else "."),
            messages.SUCCESS if sent else messages.WARNING,
        )

    @admin.action(description="Pause deliveries", permissions=["change"])
    def pause(self, request: HttpRequest, queryset) -> None:
        self._change_each(request, queryset, Subscriber.Status.ACTIVE, lifecycle.pause, "Paused")

    @admin.action(description="Resume deliveries", permissions=["change"])
    def resume(self, request: HttpRequest, queryset) -> None:
        self._change_each(request, queryset, Subscriber.Status.PAUSED, lifecycle.resume, "Resumed")

    def _change_each(self, request, queryset, status, change, verb: str) -> None:
        changed = [person for person in queryset.filter(status=status) if change(person)]
        log_change(request, changed, f"{verb} deliveries.")
        self.message_user(request, f"{verb} {len(changed)} subscriber(s).", messages.SUCCESS)

    @admin.action(description="Send me a test digest now", permissions=["view"])
    def send_test_digest(self, request: HttpRequest, queryset) -> None:
        chosen = list(queryset[: MAX_TEST_SENDS + 1])
        if len(chosen) > MAX_TEST_SENDS:
            self.message_user(
                request,
                f"Pick at most {MAX_TEST_SENDS} subscribers for test digests.",
                messages.ERROR,
            )
            return
        for subscriber in chosen:
            self._send_test(request, subscriber)

    def _send_test(self, request: HttpRequest, subscriber: Subscriber) -> None:
        try:
            send_test_digest(subscriber, request.user.get_username())
        except NothingToSend:
            self.message_user(
                request,
                f"Nothing new matches {subscriber.email}'s topics: no test sent.",
                messages.WARNING,
            )
        except Exception as exc:  # the provider refused or is down: say so, keep the page
            self.message_user(
                request, f"Test digest for {subscriber.email} failed: {exc}", messages.ERROR
            )
        else:
            self.message_user(
                request,
                f"Sent {subscriber.email}'s next digest to {request.user.get_username()}.",
                messages.SUCCESS,
            )

    @admin.action(description="Export as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset) -> StreamingHttpResponse:
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in export_rows(queryset)), content_type="text/csv"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="subscribers-{stamp}.csv"'
        return response

    @admin.action(description="Erase selected subscribers and their data…", permissions=["delete"])
    def erase(self, request: HttpRequest, queryset):
        return confirmed_action(
            self,
            request,
            queryset,
            title="Erase subscribers",
            warning=(
                "This deletes each subscriber with their topics, digests, feedback and consent "
                "records, for good. Suppressions stay, so an address that bounced or "
                "complained is still never mailed."
            ),
            perform=self._erase,
        )

    def _erase(self, request: HttpRequest, queryset, form) -> None:
        subscribers = list(queryset)
        log_change(request, subscribers, "Erased the subscriber and their data.", DELETION)
        for subscriber in subscribers:
            subscription.erase(subscriber)
        self.message_user(request, f"Erased {len(subscribers)} subscriber(s).", messages.SUCCESS)

    # "Send me a test digest": the next digest in the browser --------------------------

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path(
                "<path:object_id>/preview/",
                view(self.preview_view),
                name="accounts_subscriber_preview",
            ),
            path(
                "<path:object_id>/preview/email.html",
                view(self.preview_email_view),
                name="accounts_subscriber_preview_email",
            ),
            *super().get_urls(),
        ]

    def _subscriber_for(self, request: HttpRequest, object_id: str) -> Subscriber:
        subscriber = self.get_object(request, object_id)  # None for a bad or unknown id
        if subscriber is None:
            raise Http404("No such subscriber")
        if not self.has_view_or_change_permission(request, subscriber):
            raise PermissionDenied
        return subscriber

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: the subscriber's next digest as it would be sent now. POST: mail it to me."""
        subscriber = self._subscriber_for(request, object_id)
        if request.method == "POST":
            self._send_test(request, subscriber)
            return redirect(reverse("admin:accounts_subscriber_preview", args=[subscriber.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Next digest of {subscriber.email}",
            "subtitle": None,
            "opts": self.model._meta,
            "original": subscriber,
            "rendered": preview_digest(subscriber),
            "email_url": reverse("admin:accounts_subscriber_preview_email", args=[subscriber.pk]),
        }
        return TemplateResponse(request, "admin/accounts/subscriber/preview.html", context)

    @xframe_options_sameorigin
    def preview_email_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The email's HTML alone, for the preview page's sandboxed frame."""
        rendered = preview_digest(self._subscriber_for(request, object_id))
        response = HttpResponse(rendered.html if rendered else "")
        # The email as sent: its inline styles allowed, nothing else, and sandboxed so
        # nothing in it runs or navigates the admin.
        response._csp_replace = {  # type: ignore[attr-defined]  # read by django-csp
            "default-src": ["'none'"],
            "style-src": ["'unsafe-inline'"],
            "img-src": ["https:", "data:"],
            "form-action": ["'none'"],
            "frame-ancestors": ["'self'"],
            "sandbox": [""],
        }
        return response
