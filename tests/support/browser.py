"""A production-like Paperwire for the browser tests: its own web process, its mail on disk.

The web process runs with DEBUG off, a random secret, ``SITE_URL`` set and the same
middleware as production (CSRF, CSP, Referrer-Policy); ``runserver --insecure`` only
adds serving static files, which whitenoise does in production. It shares the test
database, so a test reads what each button changed. Its mail goes through the local
default backend into ``<var>/mail/``: the tests follow the links in the emails the
process actually wrote, signed with its own secret.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import re
import subprocess
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from tests.support import processes
from tests.support.processes import ROOT
from tests.support.workers import test_database_url

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The file backend ends every message with this line.
_SEPARATOR = b"\n" + b"-" * 79 + b"\n"
_URL = re.compile(r"https?://[^\s\"<>]+")


@dataclass
class Site:
    url: str
    env: dict[str, str]
    var: Path
    process: subprocess.Popen

    @property
    def log(self) -> Path:
        return self.var / "server.log"

    def manage(self, *args: str) -> str:
        """``manage.py <args>`` with the server's settings (its secret signs the links)."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def mails(self) -> list[EmailMessage]:
        """Every message the site wrote, oldest first."""
        folder = self.var / "mail"
        files = sorted(folder.glob("*.log"), key=lambda path: path.stat().st_mtime_ns)
        parser = email.parser.BytesParser(policy=email.policy.default)
        return [
            parser.parsebytes(raw.strip(b"\n"))
            for path in files
            for raw in path.read_bytes().split(_SEPARATOR)
            if raw.strip()
        ]

    def last_mail(self, to: str) -> EmailMessage:
        found = [message for message in self.mails() if to in str(message["To"])]
        assert found, f"no email to {to}; the site wrote {len(self.mails())}"
        return found[-1]

    def forget_mail(self) -> None:
        for path in (self.var / "mail").glob("*.log"):
            path.unlink()

    def stop(self) -> None:
        processes.stop(self.process)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def html_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return body.get_content()


def link_in(message: EmailMessage, path: str) -> str:
    """The first link in the text part whose path starts with ``path``."""
    for url in _URL.findall(text_of(message)):
        if re.match(rf"https?://[^/]+{re.escape(path)}", url):
            return url
    raise AssertionError(f"no {path} link in:\n{text_of(message)}")


def start(var: Path) -> Site:
    """Start the web process on a free port and wait until it answers /healthz."""
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}"
    env = processes.production_env(
        url,
        var,
        DATABASE_URL=test_database_url(),
        EMAIL_BACKEND="console",
        # No worker in this test: tasks (emails queued by the forms, "Fetch now") run in
        # the web process itself.
        CELERY_TASK_ALWAYS_EAGER="true",
        LOG_LEVEL="WARNING",
        # One reader walks every journey in one day: more form emails than a real mailbox
        # gets (the limit itself is tested in tests/test_hostile_signup.py).
        FORM_EMAILS_PER_DAY="50",
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    var.mkdir(parents=True, exist_ok=True)
    process = processes.spawn(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--insecure", "--noreload"],
        var / "server.log",
        env,
    )
    site = Site(url, env, var, process)
    try:
        processes.wait_until_ready(
            process, lambda: processes.answers(f"{url}/healthz"), site.log, 60, "the web process"
        )
    except RuntimeError:
        site.stop()
        raise
    return site
