"""Papers already sent, with months of history: the query matching runs once per chunk.

    DATABASE_URL=postgres://... .venv/bin/python -m bench.sent_history [--days 60]

Run it on the database ``bench/daily_run.py`` just filled (one day's papers and sent digests,
every active subscriber). It adds ``--days`` earlier sent digests of ten papers each for every
active subscriber (PostgreSQL ``generate_series``, papers first seen before that), then times,
for the first chunk of subscribers, ``digest.matching._sent`` beside the naive query it
replaced: the chunk's sent items filtered by the ids of every candidate paper.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time
from collections.abc import Callable

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Settings fail closed; a bench signs nothing that outlives it.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Subscriber  # noqa: E402
from digest import matching  # noqa: E402
from digest.models import DigestItem, Paper  # noqa: E402

OLD_PAPERS = 3000

HISTORY = """
INSERT INTO digest_paper (key, title, abstract, authors, categories, arxiv_id, abs_url,
                          pdf_url, code_url, project_url, hf_url, upvotes, comments,
                          first_seen_at, updated_at)
SELECT 'history-' || n, 'Earlier paper ' || n, '', '[]', '[]', '', '', '', '', '', '', 0, 0,
       now() - interval '1 year', now() - interval '1 year'
FROM generate_series(1, %(papers)s) n ON CONFLICT DO NOTHING;
INSERT INTO digest_digest (subscriber_id, edition, status, created_at, claim_token, sent_at,
                           attempts, subject, message_id, error)
SELECT s.id, current_date - d, 'sent', now() - d * interval '1 day', '',
       now() - d * interval '1 day', 1, '', '', ''
FROM accounts_subscriber s, generate_series(1, %(days)s) d
WHERE s.status = 'active' ON CONFLICT DO NOTHING;
INSERT INTO digest_digestitem (digest_id, paper_id, rank, score, why)
SELECT dg.id, first.id + (dg.id * 7 + k * 131) %% %(papers)s, k, 0, ''
FROM digest_digest dg, generate_series(1, 10) k,
     (SELECT min(id) AS id FROM digest_paper WHERE key LIKE 'history-%%') first
WHERE dg.sent_at < now() - interval '12 hours' ON CONFLICT DO NOTHING;
ANALYZE digest_digest;
ANALYZE digest_digestitem;
"""


def median_ms(run: Callable[[], int], times: int = 7) -> tuple[float, int]:
    took, rows = [], 0
    for _ in range(times):
        started = time.perf_counter()
        rows = run()
        took.append(time.perf_counter() - started)
    return statistics.median(took) * 1000, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=60, help="days of sent history to add")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("needs PostgreSQL (DATABASE_URL), filled by bench/daily_run.py")
    ids = list(
        Subscriber.objects.active()
        .order_by("pk")
        .values_list("pk", flat=True)[: settings.DIGEST_CHUNK_SIZE]
    )
    papers = list(Paper.objects.filter(listings__isnull=False).distinct().order_by("pk"))
    if not ids or not papers:
        raise SystemExit("no subscribers or papers: run bench/daily_run.py first")
    if not Paper.objects.filter(key__startswith="history-").exists():
        print(f"adding {args.days} days of sent digests for every active subscriber ...")
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(HISTORY, {"days": args.days, "papers": OLD_PAPERS})
        print(f"  done in {time.perf_counter() - started:.0f} s")
    number = {p.pk: n for n, p in enumerate(papers)}
    paper_ids = [p.pk for p in papers]

    def naive() -> int:
        rows = DigestItem.objects.filter(
            digest__subscriber_id__in=ids, digest__status="sent", paper_id__in=paper_ids
        ).values_list("digest__subscriber_id", "paper_id")
        return len(list(rows))

    def windowed() -> int:
        return sum(len(found) for found in matching._sent(ids, papers, number).values())

    items = DigestItem.objects.count()
    print(
        f"{len(ids)} subscribers, {len(papers):,} candidate papers, {items:,} sent items in all"
        f" ({timezone.now():%Y-%m-%d %H:%M} UTC, load {os.getloadavg()[0]:.1f})"
    )
    for name, run in (("naive: paper_id IN (every candidate)", naive), ("_sent", windowed)):
        took, rows = median_ms(run)
        print(f"  {name:40} {took:8.1f} ms median of 7  ({rows:,} already sent)")


if __name__ == "__main__":
    main()
