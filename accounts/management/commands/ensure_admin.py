"""Create the local admin login once and print it on every run.

Used by `python3 dev.py run`, so a person trying Paperwire on a laptop can
sign in to /admin/ without another step. The password is random and kept in
var/admin-login.txt; production installs use `createsuperuser` instead.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User


class Command(BaseCommand):
    help = "Create a local admin login if there is none, and print it."

    def add_arguments(self, parser):
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args, email: str, **options):
        saved = settings.VAR_DIR / "admin-login.txt"
        user = User.objects.filter(email__iexact=email).first()
        if user is None or not saved.exists():
            password = secrets.token_urlsafe(12)
            if user is None:
                User.objects.create_superuser(email, password)
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            saved.write_text(f"{email} {password}\n")
            saved.chmod(0o600)
        login, password = saved.read_text().split()
        self.stdout.write(
            f"Admin login for http://127.0.0.1:8000/admin/: {login} / {password} (kept in {saved})"
        )
