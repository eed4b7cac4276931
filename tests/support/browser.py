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
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent
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


def database_url() -> str:
    """The test database, as a DATABASE_URL another process can open."""
    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    user = quote(config.get("USER") or "", safe="")
    password = f":{quote(config['PASSWORD'], safe='')}" if config.get("PASSWORD") else ""
    host = config.get("HOST") or "127.0.0.1"
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{quote(config['NAME'], safe='')}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


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
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SITE_URL": url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(),
        "VAR_DIR": str(var),
        "EMAIL_BACKEND": "console",
        # No worker in this test: tasks (emails queued by the forms, "Fetch now") run in
        # the web process itself.
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "WARNING",
        # One reader walks every journey in one day: more form emails than a real mailbox
        # gets (the limit itself is tested in tests/test_hostile_signup.py).
        "FORM_EMAILS_PER_DAY": "50",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    var.mkdir(parents=True, exist_ok=True)
    log = (var / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--insecure", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    site = Site(url, env, var, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return site
        except OSError:
            time.sleep(0.2)
    site.stop()
    raise RuntimeError(f"the web process did not start:\n{site.log.read_text()[-3000:]}")
