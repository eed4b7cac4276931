"""Provider tracking events (Anymail's ``tracking`` signal): stored, and acted on once.

Anymail's webhook views check the basic-auth secret (``ANYMAIL_WEBHOOK_SECRET``) and
normalise each provider's payload; this receiver stores every event as an ``EmailEvent``
and, the first time an event is seen:

- a hard bounce, a rejected invalid address, a spam complaint or an unsubscribe made at
  the provider suppresses the address at once (``accounts.lifecycle.suppress``);
- a soft bounce (Postmark ``SoftBounce``/``Transient``, any ``deferred`` event) counts
  toward ``SOFT_BOUNCE_LIMIT`` consecutive ones, reset by a delivery;
- an event older than ``WEBHOOK_STALE_AFTER_DAYS`` is stored but changes nothing.

A replayed event (same id; for providers without ids, the same payload) is stored once
and processed once. Delivery suppresses through the same ``lifecycle.suppress`` when the
provider refuses a recipient for good at send time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

from anymail.signals import AnymailTrackingEvent, tracking
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from accounts import lifecycle
from accounts.models import Subscriber
from digest.models import Digest, EmailEvent, Suppression

logger = logging.getLogger(__name__)

# Postmark reports a soft bounce as event type "bounced"; its own Type tells them apart.
SOFT_BOUNCE_TYPES = {"SoftBounce", "Transient", "DnsError"}
SUPPRESSING = {
    "complained": Suppression.Reason.COMPLAINED,
    "unsubscribed": Suppression.Reason.UNSUBSCRIBED,
}


@receiver(tracking, dispatch_uid="paperwire-tracking")
def on_tracking_event(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    record_event(event, esp_name)


def record_event(event: AnymailTrackingEvent, esp_name: str) -> EmailEvent | None:
    """Store ``event`` and act on it; return None when it was already stored (a replay)."""
    raw = _jsonable(event.esp_event)
    event_id = f"{esp_name.lower()}:{event.event_id or _fingerprint(raw)}"[:200]
    recipient = (event.recipient or "").strip().lower()
    if event.timestamp is not None and timezone.is_naive(event.timestamp):
        event.timestamp = event.timestamp.replace(tzinfo=dt.UTC)
    with transaction.atomic():
        stored, created = EmailEvent.objects.get_or_create(
            event_id=event_id,
            defaults={
                "event_type": event.event_type or "unknown",
                "recipient": recipient[:254],
                "message_id": str(event.message_id or "")[:200],
                "digest": _digest_for(event),
                "timestamp": event.timestamp,
                "description": event.description or event.mta_response or "",
                "raw": raw,
            },
        )
        if not created:
            logger.info("tracking event %s already processed", event_id)
            return None
        if not recipient:
            return stored
        if _is_stale(event):
            logger.warning("tracking event %s is stale, stored without action", event_id)
            return stored
        _act(stored, event, recipient)
    return stored


def _act(stored: EmailEvent, event: AnymailTrackingEvent, recipient: str) -> None:
    kind = event.event_type
    esp_type = event.esp_event.get("Type") if isinstance(event.esp_event, dict) else None
    if kind == "deferred" or (kind == "bounced" and esp_type in SOFT_BOUNCE_TYPES):
        _count_soft_bounce(stored, recipient)
    elif kind == "bounced" or (
        kind == "rejected" and event.reject_reason in ("invalid", "bounced")
    ):
        lifecycle.suppress(recipient, Suppression.Reason.BOUNCED, stored)
    elif kind in SUPPRESSING:
        lifecycle.suppress(recipient, SUPPRESSING[kind], stored)
    elif kind == "delivered":
        Subscriber.objects.filter(email=recipient, soft_bounces__gt=0).update(soft_bounces=0)


def _count_soft_bounce(stored: EmailEvent, recipient: str) -> None:
    Subscriber.objects.filter(email=recipient).update(soft_bounces=F("soft_bounces") + 1)
    if Subscriber.objects.filter(
        email=recipient, soft_bounces__gte=settings.SOFT_BOUNCE_LIMIT
    ).exists():
        lifecycle.suppress(recipient, Suppression.Reason.SOFT_BOUNCES, stored)


def _digest_for(event: AnymailTrackingEvent) -> Digest | None:
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    try:
        digest_id = int(metadata.get("digest_id") or 0)
    except (TypeError, ValueError):
        digest_id = 0
    found = Q(pk=digest_id) if digest_id else Q()
    if event.message_id:
        found |= Q(message_id=str(event.message_id))
    return Digest.objects.filter(found).first() if found else None


def _is_stale(event: AnymailTrackingEvent) -> bool:
    if event.timestamp is None:
        return False
    limit = timezone.now() - dt.timedelta(days=settings.WEBHOOK_STALE_AFTER_DAYS)
    return event.timestamp < limit


def _jsonable(value) -> dict:
    data = json.loads(json.dumps(value, default=str))
    return data if isinstance(data, dict) else {"event": data}


def _fingerprint(raw: dict) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()


def _tracking_views() -> dict:
    from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
    from anymail.webhooks.mailgun import MailgunTrackingWebhookView
    from anymail.webhooks.postmark import PostmarkTrackingWebhookView
    from anymail.webhooks.sendgrid import SendGridTrackingWebhookView

    return {
        "amazon_ses": AmazonSESTrackingWebhookView.as_view(),
        "mailgun": MailgunTrackingWebhookView.as_view(),
        "postmark": PostmarkTrackingWebhookView.as_view(),
        "sendgrid": SendGridTrackingWebhookView.as_view(),
    }


@csrf_exempt  # the provider posts without a cookie; Anymail checks the secret instead
def webhook(request: HttpRequest, provider: str) -> HttpResponse:
    """Anymail's tracking view for the provider we send with (``TRACKING_WEBHOOK_PROVIDER``),
    and a 404 for every other: Anymail mounts 27 endpoints, some of which fail with a 500
    on an anonymous POST, and each would accept our one secret."""
    if not provider or provider != settings.TRACKING_WEBHOOK_PROVIDER:
        raise Http404("no such webhook")
    return _tracking_views()[provider](request)
