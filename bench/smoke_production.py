"""A production-like smoke run: one confirmed subscriber gets exactly one digest over SMTP.

    .venv/bin/python bench/smoke_production.py \\
        [--database-url postgres://postgres@127.0.0.1:5432/paperwire_smoke] \\
        [--redis-url redis://127.0.0.1:6379/5]

Real processes, configured as in production: gunicorn with DEBUG off and a random secret,
PostgreSQL, Redis (three databases from --redis-url: broker, results, cache), one Celery
worker consuming both queues and one beat, and a real SMTP server on loopback (aiosmtpd,
run here) as the sending provider. A visitor signs up through the web form, confirms
through the emailed link (GET, then the page's POST), and is then due (their send time is
moved to now rather than waiting for the hour); beat's dispatch ticks every 2 s. The run
checks that exactly one digest arrives, with its list headers, that further ticks send no
second one, and that no emailed token appears in any log line of any process.

The database is dropped and created again, and the three Redis databases are flushed: the
script refuses names without "smoke" in them. CI runs it (.ci/run); it takes about a
minute and gives up after --timeout seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procs import Fleet  # noqa: E402
from tests.support import processes  # noqa: E402
from tests.support.processes import free_port, wait_for  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "hf_daily_papers_2026-08-20.json"
READER = "smoke-reader@example.org"
# Where an emailed link carries a token (accounts/urls.py).
TOKEN_PATHS = re.compile(r"/(?:confirm|unsubscribe|manage/sign-in|feedback)/([^/\s\"'<>]+)")


class Failed(Exception):
    pass


class Mailbox:
    """An aiosmtpd handler keeping every message it receives; its log names no body."""

    def __init__(self, log: Path) -> None:
        self.messages: list[EmailMessage] = []
        self.log = log
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
            with self.log.open("a") as out:
                out.write(f"received from {envelope.mail_from} for {envelope.rcpt_tos}\n")
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]


def fresh_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.strip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def flush_redis(url: str) -> None:
    import redis

    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    for number in range(base, base + 3):  # broker, results, cache (config/settings.py)
        redis.Redis.from_url(urlunsplit(parts._replace(path=f"/{number}"))).flushdb()


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def sign_up_and_confirm(site: str, topic_id: int, mailbox: Mailbox, say) -> None:
    import requests

    web = requests.Session()
    form = web.get(f"{site}/subscribe/", timeout=30)
    form.raise_for_status()
    csrf_field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert csrf_field
    csrf = csrf_field.group(1)
    answer = web.post(
        f"{site}/subscribe/",
        data={
            "csrfmiddlewaretoken": csrf,
            "email": READER,
            "topics": [str(topic_id)],
            "own_topics": "",
            "frequency": "daily",
            "weekday": "0",
            "send_hour": "7",
            "time_zone": "UTC",
            "max_papers": "5",
            "website": "",
        },
        headers={"Referer": f"{site}/subscribe/"},
        timeout=30,
    )
    if not answer.url.endswith("/subscribe/sent/"):
        raise Failed(f"the signup form was not accepted: {answer.status_code} {answer.url}")
    say("  signed up through the form")
    (confirmation,) = wait_for(lambda: mailbox.to(READER), 30, 0.5, "the confirmation email")
    link = re.search(rf"{re.escape(site)}/confirm/[^\s]+/", text_part(confirmation))
    assert link
    page = web.get(link.group(0), timeout=30)  # the token moves into the session, then a redirect
    csrf_field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert csrf_field
    csrf = csrf_field.group(1)
    done = web.post(
        page.url, data={"csrfmiddlewaretoken": csrf}, headers={"Referer": page.url}, timeout=30
    )
    done.raise_for_status()
    say("  confirmed through the emailed link")


def leaked_tokens(logs: list[Path], messages: list[EmailMessage]) -> list[str]:
    tokens = set()
    for message in messages:
        for part in message.walk():
            if part.get_content_maintype() == "text":
                tokens.update(TOKEN_PATHS.findall(part.get_content()))
        for header in ("List-Unsubscribe",):
            tokens.update(TOKEN_PATHS.findall(str(message.get(header, ""))))
    tokens = {t for t in tokens if len(t) >= 16}
    if not tokens:
        raise Failed("found no token in the emails: the check would prove nothing")
    found = []
    for log in logs:
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            if any(token in line for token in tokens):
                found.append(f"{log.name}:{number}: {line[:200]}")
    return found


def run(args: argparse.Namespace, say=print) -> None:
    if "smoke" not in urlsplit(args.database_url).path:
        raise SystemExit("refusing to drop a database whose name does not contain 'smoke'")
    with tempfile.TemporaryDirectory(prefix="pw-smoke-") as tmp:
        var = Path(tmp)
        smtp_port, web_port = free_port(), free_port()
        site = f"http://127.0.0.1:{web_port}"
        env = processes.production_env(
            site,
            var,
            DATABASE_URL=args.database_url,
            REDIS_URL=args.redis_url,
            EMAIL_BACKEND="smtp",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp_port),
            DEFAULT_FROM_EMAIL="Paperwire <papers@example.org>",
            POSTAL_ADDRESS="1 Smoke Lane, Testville",
            DISPATCH_EVERY_SECONDS="2",
            LOG_LEVEL="INFO",
        )
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CACHE_URL"):
            env.pop(name, None)
        os.environ.update(env)
        fresh_database(args.database_url)
        flush_redis(args.redis_url)
        say(f"  PostgreSQL {args.database_url} created, Redis {args.redis_url} (+2) flushed")

        def manage(*command: str) -> None:
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)

        manage("migrate", "--no-input", "-v", "0")
        manage("collectstatic", "--no-input", "-v", "0")
        today = dt.datetime.now(dt.UTC).date().isoformat()
        manage("ingest", "--file", str(SAMPLE), "--date", today)

        import django

        django.setup()
        from accounts.models import Subscriber
        from digest.models import Digest, Topic

        topic = Topic.objects.create(name="Models", query="model")

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # a line per SMTP command
        mailbox = Mailbox(var / "smtpd.log")
        mailbox.log.touch()
        smtpd = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
        smtpd.start()
        try:
            with Fleet(var) as fleet:
                fleet.spawn(
                    "web",
                    [
                        sys.executable, "-m", "gunicorn", "config.wsgi",
                        "--bind", f"127.0.0.1:{web_port}", "--workers", "2",
                        "--access-logfile", "-", "--error-logfile", "-",
                        "--logger-class", "accounts.redact.GunicornLogger",
                    ],
                    env,
                )  # fmt: skip
                fleet.start_workers(1, concurrency=2, env=env, include=())
                fleet.spawn(
                    "beat",
                    [
                        sys.executable, "-m", "celery", "-A", "config", "beat",
                        "--loglevel", "INFO", "--schedule", str(var / "celerybeat-schedule"),
                    ],
                    env,
                )  # fmt: skip
                processes.wait_until_ready(
                    fleet.procs["web"],
                    lambda: processes.answers(f"{site}/healthz"),
                    fleet.logs["web"],
                    60,
                    "gunicorn",
                )
                say("  gunicorn (DEBUG off), worker (celery,ingest) and beat are up")

                sign_up_and_confirm(site, topic.pk, mailbox, say)
                reader = Subscriber.objects.get(email=READER)
                if reader.status != Subscriber.Status.ACTIVE:
                    raise Failed(f"the reader is {reader.status}, not active")
                Subscriber.objects.filter(pk=reader.pk).update(next_send_at=dt.datetime.now(dt.UTC))
                wait_for(lambda: len(mailbox.to(READER)) >= 2, 90, 0.5, "the digest")
                time.sleep(8)  # four more dispatch ticks: none may send it again
                messages = mailbox.to(READER)
                digests = [m for m in messages if "List-Unsubscribe" in m]
                if len(messages) != 2 or len(digests) != 1:
                    raise Failed(f"{len(messages)} messages, {len(digests)} digests, to the reader")
                (digest,) = digests
                for header in ("List-Unsubscribe", "List-Unsubscribe-Post", "Message-ID"):
                    if not digest[header]:
                        raise Failed(f"the digest has no {header} header")
                row = Digest.objects.get(subscriber=reader)
                if row.status != Digest.Status.SENT:
                    raise Failed(f"the digest is recorded {row.status}, not sent")
                say(f"  one digest over SMTP: {digest['Subject']!r}, recorded sent")
            logs = [*fleet.logs.values(), mailbox.log]
        finally:
            smtpd.stop()
        leaks = leaked_tokens(logs, mailbox.messages)
        if leaks:
            raise Failed("tokens in the logs:\n" + "\n".join(leaks))
        lines = sum(len(log.read_text(errors="replace").splitlines()) for log in logs)
        say(f"  no token in any of {lines} log lines of {len(logs)} processes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/paperwire_smoke"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    print("== production-like smoke run")
    timer = threading.Timer(args.timeout, lambda: os.kill(os.getpid(), 2))
    timer.daemon = True
    timer.start()
    try:
        run(args)
    except (Failed, TimeoutError, RuntimeError) as failure:  # a check, a wait, a start
        print(f"FAILED: {failure}")
        return 1
    except KeyboardInterrupt:
        print(f"FAILED: gave up after {args.timeout:.0f} s")
        return 1
    finally:
        timer.cancel()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
