"""The two emails the subscriber pages send, each built from three templates
(``accounts/email/<name>-subject.txt``, ``-body.txt``, ``-body.html``) by the one
renderer every email goes through (``digest.mail.compose.render_email``).

Neither carries text a visitor typed: whoever fills in the form chooses only
the recipient, so the form cannot be used to send someone a message.
"""

from __future__ import annotations

from pathlib import Path

from anymail.message import AnymailMessage
from django.conf import settings

from accounts import links
from accounts.models import Subscriber
from digest.mail.compose import render_email

LOCAL_BACKEND = "digest.mail.backends.ConsoleAndFileBackend"


def send(name: str, to: str, context: dict) -> None:
    context = {"site_name": settings.SITE_NAME, "manage_url": links.manage_url(), **context}
    rendered = render_email(f"accounts/email/{name}", context)
    message = AnymailMessage(
        subject=rendered.subject,
        body=rendered.text,
        to=[to],
        headers={"Auto-Submitted": "auto-generated"},
        tags=[name],  # read by Anymail backends, ignored by others
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send()


def send_confirmation(subscriber: Subscriber) -> None:
    send("confirm", subscriber.email, {"link": links.confirm_url(subscriber), "days": 7})


def send_sign_in_link(subscriber: Subscriber) -> None:
    send("sign-in", subscriber.email, {"link": links.sign_in_url(subscriber), "minutes": 60})


def mail_went_to() -> str:
    """Where this installation puts its mail when it sends none (the local default:
    the terminal and this folder), for the "check your inbox" pages; "" otherwise."""
    if settings.EMAIL_BACKEND != LOCAL_BACKEND:
        return ""
    folder = Path(settings.EMAIL_FILE_PATH)
    try:
        return f"{folder.relative_to(settings.BASE_DIR)}/"
    except ValueError:
        return f"{folder}/"
