"""The admin's big lists on PostgreSQL: one changelist page with Paperwire's large-table
measures, beside Django's defaults on the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pw_bench_admin \\
        .venv/bin/python bench/admin.py --events 1000000 --papers 200000

It creates the database when missing, migrates it, fills ``digest_emailevent`` and
``digest_paper`` (each paper listed twice and sent in a digest) with INSERT ... SELECT
generate_series, runs ANALYZE, and times GET of the email-event and paper changelists through
Django's test client as a superuser (median of 5 after a warm-up).

The baseline is the same ModelAdmin with Django's defaults: the plain Paginator (a COUNT(*)
per page) and ``show_full_result_count = True`` (a second one), and, for papers, the listing
and digest counts as ``Count()`` joins grouped over the whole table instead of correlated
subqueries for the page's rows. The script refuses a database whose name lacks "bench".
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to fill {name!r}: use a database whose name contains 'bench'")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


FILL = """
TRUNCATE digest_emailevent, digest_digestitem, digest_digest, digest_listing, digest_paper,
         accounts_subscriber_topics, accounts_consent, accounts_subscriber, digest_source
         RESTART IDENTITY CASCADE;
INSERT INTO digest_source (name, kind, url, params, enabled, etag, last_modified, last_status,
                           last_counts, last_error)
SELECT 'Source ' || i, 'feed', '', '{}', true, '', '', 'ok', '{}', '' FROM generate_series(1, 2) i;
INSERT INTO accounts_subscriber (email, status, own_topics, frequency, weekday, send_hour,
    time_zone, max_papers, min_score, created_at, token_nonce, soft_bounces)
VALUES ('reader@example.org', 'active', '', 'daily', 0, 7, 'UTC', 10, 0, now(), 0, 0);
INSERT INTO digest_paper (key, arxiv_id, title, abstract, authors, categories, abs_url, pdf_url,
    code_url, project_url, hf_url, upvotes, comments, first_seen_at, updated_at)
SELECT 'arxiv:' || i, '2601.' || lpad(i::text, 5, '0'), 'Paper ' || i, 'An abstract.',
       '[]', '[]', '', '', '', '', '', mod(i, 50), 0, now() - i * interval '1 second', now()
FROM generate_series(1, %(papers)s) i;
INSERT INTO digest_listing (source_id, paper_id, day, rank, upvotes, comments, announce_type)
SELECT s, p, date '2026-01-01' + mod(p, 300), mod(p, 100), 0, 0, ''
FROM generate_series(1, %(papers)s) p, generate_series(1, 2) s;
INSERT INTO digest_digest (subscriber_id, edition, status, created_at, attempts, subject,
                           message_id, error, claim_token)
SELECT 1, date '2000-01-01' + d, 'sent', now(), 1, '', 'msg-' || d, '', ''
FROM generate_series(0, %(papers)s / 10) d;
INSERT INTO digest_digestitem (digest_id, paper_id, rank, score, why)
SELECT 1 + p / 10, p, mod(p, 10), 0.5, '' FROM generate_series(1, %(papers)s) p;
INSERT INTO digest_emailevent (event_id, event_type, recipient, message_id, timestamp,
                               received_at, description, raw)
SELECT 'e' || i, (ARRAY['delivered','opened','bounced','complained'])[1 + mod(i, 4)],
       'r' || mod(i, 5000) || '@example.org', 'msg-' || mod(i, 20000), now(),
       now() - i * interval '1 second', '', '{}'
FROM generate_series(1, %(events)s) i;
ANALYZE;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--papers", type=int, default=200_000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database whose name contains 'bench'")
    ensure_database(url)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Settings fail closed; a bench signs nothing that outlives it.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()
    from django.contrib import admin
    from django.core.management import call_command
    from django.core.paginator import Paginator
    from django.db import connection
    from django.db.models import Count
    from django.test import Client

    from accounts.models import User
    from digest.models import EmailEvent, Paper

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(FILL, {"papers": args.papers, "events": args.events})
    print(f"filled {args.events:,} events, {args.papers:,} papers in "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip

    user = User.objects.filter(email="bench@example.org").first()
    user = user or User.objects.create_superuser("bench@example.org")
    client = Client()
    client.force_login(user)

    def page_ms(path: str) -> float:
        client.get(path)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            assert client.get(path).status_code == 200
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    def naive_papers(model_admin, request):
        return Paper.objects.annotate(listed=Count("listings", distinct=True),
                                      sent_in=Count("digest_items", distinct=True))  # fmt: skip

    print(f"{'changelist':48} {'Paperwire':>11} {'Django defaults':>16}")
    for model, path, extra in [
        (EmailEvent, "/admin/digest/emailevent/", {}),
        (EmailEvent, "/admin/digest/emailevent/?event_type=bounced", {}),
        (Paper, "/admin/digest/paper/", {"get_queryset": naive_papers}),
    ]:
        model_admin = admin.site._registry[model]
        ours = page_ms(path)
        cls = type(model_admin)
        saved = {"paginator": Paginator, "show_full_result_count": True, **extra}
        originals = {name: cls.__dict__.get(name) for name in saved}
        for name, value in saved.items():
            setattr(cls, name, value)
        try:
            theirs = page_ms(path)
        finally:
            for name, value in originals.items():
                if value is None:
                    delattr(cls, name)
                else:
                    setattr(cls, name, value)
        print(f"{path:48} {ours:>9.0f}ms {theirs:>14.0f}ms")


if __name__ == "__main__":
    main()
