"""Postmark tracking webhook payloads, in Postmark's own format (as in Anymail's tests),
and a poster with the webhook's basic-auth secret."""

from __future__ import annotations

import base64
import json

from django.utils import timezone

URL = "/webhooks/anymail/postmark/tracking/"
SECRET = "hook:secret"


def auth(secret: str = SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def post(client, event: dict, **headers):
    return client.post(URL, data=json.dumps(event), content_type="application/json", **headers)


def recent() -> str:
    return timezone.now().isoformat()


def hard_bounce(email: str, event_id: int = 901542550, **fields) -> dict:
    return {
        "RecordType": "Bounce",
        "ID": event_id,
        "Type": "HardBounce",
        "TypeCode": 1,
        "ServerID": 23,
        "Name": "Hard bounce",
        "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "papers@example.org",
        "BouncedAt": recent(),
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Postmark event test",
        **fields,
    }


def soft_bounce(email: str, event_id: int) -> dict:
    return hard_bounce(email, event_id, Type="SoftBounce", TypeCode=4096, Name="Soft bounce")


def delivery(email: str, message_id: str, metadata: dict | None = None) -> dict:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageID": message_id,
        "Recipient": email,
        "Tag": "digest",
        "Metadata": metadata or {},
        "DeliveredAt": recent(),
        "Details": "Test delivery webhook details",
    }


def spam_complaint(email: str) -> dict:
    return {
        "RecordType": "SpamComplaint",
        "ID": 901542551,
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
        "Tag": "digest",
        "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
        "ServerID": 1234,
        "Description": "",
        "Details": "Test spam complaint details",
        "Email": email,
        "From": "papers@example.org",
        "BouncedAt": recent(),
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": False,
        "Subject": "Postmark event test",
    }


def subscription_change(email: str) -> dict:
    return {
        "RecordType": "SubscriptionChange",
        "MessageID": "a4909a96-73d7-4c49-b148-a54522d3f7ac",
        "ServerID": 23,
        "MessageStream": "outbound",
        "ChangedAt": recent(),
        "Recipient": email,
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "digest",
        "Metadata": {},
    }
