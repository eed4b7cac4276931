"""The operators' admin for sending: digests, email events, suppressions and feedback.

As in digest/admin/catalogue.py, every changelist runs a fixed number of queries.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import DELETION
from django.db import models
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts import lifecycle
from digest.admin.actions import confirmed_action, log_change
from digest.admin.paging import BigTableAdmin
from digest.admin.panels import ReadOnlyInline
from digest.mail import resend
from digest.models import (
    Digest,
    DigestItem,
    EmailEvent,
    Feedback,
    Suppression,
)

PREVIEW_MATCHES = 10
# Django 6 will assume https for a URL typed without a scheme; do so already.
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


class DigestItemInline(ReadOnlyInline):
    model = DigestItem
    fields = ["rank", "paper", "score", "kind", "why"]

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

    @admin.action(
        description="Resend selected failed or maybe-sent digests", permissions=["change"]
    )
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

    def get_readonly_fields(self, request, obj=None):
        # Another address is another suppression: add it, and lift this one.
        return ["email"] if obj is not None else []

    def save_model(self, request, obj: Suppression, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Through the lifecycle, so the address's subscriber is held at once too.
        lifecycle.suppress(obj.email, obj.reason, obj.event)
        obj.pk = Suppression.objects.of(obj.email).values_list("pk", flat=True).get()

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

    def _lift(self, request: HttpRequest, queryset, form: forms.Form) -> None:
        suppressions = list(queryset)
        log_change(request, suppressions, "Lifted the suppression.", DELETION)
        reactivate = form.cleaned_data["reactivate"]
        released = sum(lifecycle.lift(s.email, reactivate=reactivate) for s in suppressions)
        self.message_user(
            request,
            f"Lifted {len(suppressions)} suppression(s); "
            f"{released} subscriber(s) now {'active' if reactivate else 'unsubscribed'}.",
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
