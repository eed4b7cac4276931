"""Ingest benchmark: one day's 2,500-item arXiv listing, fetched, parsed and stored.

    .venv/bin/python bench/ingest.py [--items 2500]

The listing is built from the real rss.arxiv.org items in tests/data/ (their exact XML,
with new ids), served from the tests' loopback feed server and ingested by
``ingest_source`` into a fresh database: a temporary SQLite file, or the PostgreSQL
database in DATABASE_URL if its name contains "bench" (its papers and listings are
deleted first). Goal: at most 3 s end to
end. Printed beside it: the same items stored naively, one query and one ``save()`` per
paper and per listing, as a first version would; and the embedding stage (what each paper
means, worked out once as it is stored; goal: at most 30 s for 2,500 papers), beside the
bulk store without it (MATCH_MODEL_DIR=off, matching by words only, as before).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.feedserver import FeedServer, Reply  # noqa: E402

RSS = "application/rss+xml"
SAMPLES = [
    ROOT / "tests" / "data" / f"arxiv_rss2_rss.arxiv.org_cs.{c}_trimmed.xml"
    for c in ("AI", "CL", "LG")
]
GOAL_SECONDS = 3.0
EMBED_GOAL_SECONDS = 30.0


def build_listing(count: int) -> bytes:
    """``count`` items cycling through the real sample items, each with its own new id."""
    items = []
    for sample in SAMPLES:
        items += re.findall(rb"<item>.*?</item>", sample.read_bytes(), re.DOTALL)
    head = SAMPLES[0].read_bytes().split(b"<item>", 1)[0]
    out = [head]
    for n in range(count):
        item = items[n % len(items)]
        found = re.search(rb"oai:arXiv.org:(\d{4}\.\d{5})v\d", item)
        assert found
        old = found.group(1)
        out.append(item.replace(old, f"2604.{60000 + n:05d}".encode()))
    out.append(b"</channel>\n</rss>\n")
    return b"".join(out)


def setup_django(var_dir: str) -> None:
    os.environ["VAR_DIR"] = var_dir
    os.environ["FETCH_ALLOW_PRIVATE"] = "1"  # the loopback server plays rss.arxiv.org
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Settings fail closed; a bench signs nothing that outlives it.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    url = os.environ.get("DATABASE_URL", "")
    if url and "bench" not in url.rsplit("/", 1)[-1]:
        sys.exit("DATABASE_URL must name a database containing 'bench' (it is emptied)")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def naive_store(items, source, day) -> None:
    """One query to look each paper up, one save() per paper and per listing."""
    from digest.models import Listing, Paper

    for rank, item in enumerate(items, 1):
        paper = Paper.objects.filter(key=item.key).first() or Paper(key=item.key)
        for name in ("arxiv_id", "title", "abstract", "authors", "categories", "abs_url"):
            setattr(paper, name, getattr(item, name))
        paper.version, paper.published_at = item.version, item.published_at
        paper.save()
        Listing(
            source=source, paper=paper, day=day, rank=rank, announce_type=item.announce_type
        ).save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pw-bench-ingest-") as var_dir:
        setup_django(var_dir)
        from django.db import connection
        from django.test import override_settings

        from digest.ingest.fetch import fetch
        from digest.ingest.sources import arxiv_listing
        from digest.ingest.store import ingest_source, store
        from digest.matching import encoder, fill_embeddings
        from digest.models import Listing, Paper, Source

        def empty() -> None:
            Listing.objects.all().delete()
            Paper.objects.all().delete()
            Source.objects.filter(name="bench: arXiv listing").delete()

        body = build_listing(args.items)
        empty()
        with FeedServer() as feeds:  # the tests' loopback feed host
            feeds.routes["/rss/cs.AI"] = Reply(body, headers={"Content-Type": RSS})
            url = feeds.url("/rss/cs.AI")
            source = Source.objects.create(
                name="bench: arXiv listing", kind=Source.Kind.ARXIV_LISTING, url=url
            )
            started = time.perf_counter()
            run = ingest_source(source)
            total = time.perf_counter() - started
            assert (run.status, run.new) == ("ok", args.items), (run.status, run.new, run.error)

            started = time.perf_counter()
            again = ingest_source(source)
            repeat = time.perf_counter() - started
            assert again.unchanged == args.items

            empty()
            source = Source.objects.create(
                name="bench: arXiv listing", kind=Source.Kind.ARXIV_LISTING, url=url
            )
            t0 = time.perf_counter()
            response = fetch(url)
            t1 = time.perf_counter()
            parsed = arxiv_listing.parse(response.body)
            t2 = time.perf_counter()
            store(parsed.items, source, run.day)
            t3 = time.perf_counter()

            empty()
            source = Source.objects.create(
                name="bench: arXiv listing", kind=Source.Kind.ARXIV_LISTING, url=url
            )
            with override_settings(MATCH_MODEL_DIR="off"):
                t4 = time.perf_counter()
                store(parsed.items, source, run.day)
                words_only = time.perf_counter() - t4
            assert not Paper.objects.exclude(embedding=None).exists()

            unsaved = [Paper(key=i.key, title=i.title, abstract=i.abstract) for i in parsed.items]
            t5 = time.perf_counter()
            embedded = fill_embeddings(unsaved)
            embedding = time.perf_counter() - t5
            assert embedded == args.items
            model = encoder()
            assert model is not None

        empty()
        source = Source.objects.create(name="bench: arXiv listing", kind=Source.Kind.ARXIV_LISTING)
        started = time.perf_counter()
        naive_store(parsed.items, source, run.day)
        naive = time.perf_counter() - started
        empty()

        print(
            f"Ingest benchmark: {args.items} arXiv listing items ({len(body) / 1e6:.1f} MB), "
            f"{connection.vendor}"
        )
        print(
            f"  fetch + parse + store, new papers : {total:6.2f} s   "
            f"(goal <= {GOAL_SECONDS:.0f} s: {'met' if total <= GOAL_SECONDS else 'MISSED'})"
        )
        print(f"    fetch {t1 - t0:.2f} s, parse {t2 - t1:.2f} s, store (bulk) {t3 - t2:.2f} s")
        print(
            f"  embedding stage, {embedded} papers  : {embedding:6.2f} s   "
            f"(goal <= {EMBED_GOAL_SECONDS:.0f} s: "
            f"{'met' if embedding <= EMBED_GOAL_SECONDS else 'MISSED'}; model {model.name})"
        )
        print(
            f"    store (bulk) with embeddings {t3 - t2:.2f} s; by words only, "
            f"as before meaning: {words_only:.2f} s"
        )
        print(f"  same listing again, all unchanged : {repeat:6.2f} s")
        print(
            f"  naive store, one save() per row   : {naive:6.2f} s   "
            f"(bulk store is {naive / (t3 - t2):.0f}x faster)"
        )


if __name__ == "__main__":
    main()
