"""Show the digest one subscriber would get now, without sending or recording anything.

Prints the subject and the plain-text part; ``--html``/``--text`` write the parts to
files (open the HTML in a browser to see what a mail program shows).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Subscriber
from digest.mail.delivery import preview_digest


class Command(BaseCommand):
    help = "Preview the digest a subscriber would get now."

    def add_arguments(self, parser) -> None:
        parser.add_argument("address", help="The subscriber's email address.")
        parser.add_argument("--html", metavar="PATH", help="Write the HTML part here.")
        parser.add_argument("--text", metavar="PATH", help="Write the plain-text part here.")

    def handle(self, *args, address: str, html: str | None, text: str | None, **options):
        person = Subscriber.objects.filter(email=address.strip().lower()).first()
        if person is None:
            raise CommandError(f"No subscriber has the address {address}.")
        rendered = preview_digest(person)
        if rendered is None:
            self.stdout.write(f"Nothing new matches the topics of {person.email}.")
            return
        self.stdout.write(f"Subject: {rendered.subject}")
        for path, body in ((html, rendered.html), (text, rendered.text)):
            if path:
                Path(path).write_text(body, encoding="utf-8")
                self.stdout.write(f"wrote {path}")
        if not text:
            self.stdout.write("")
            self.stdout.write(rendered.text)
