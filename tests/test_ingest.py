"""Storing what sources list: bulk, idempotent, one Paper per real paper, runs recorded."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Subscriber
from digest.ingest.store import ingest_file, ingest_source
from digest.models import Listing, Paper, Source, SourceRun, Topic
from digest.tasks import ingest_source_task
from tests.support.feedserver import FeedServer, Reply

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
AUG29 = DATA / "daily-papers-aug29.rss"
LISTING = DATA / "arxiv_rss2_rss.arxiv.org_cs.AI_trimmed.xml"
HF = DATA / "hf_daily_papers_2026-08-20.json"


@pytest.fixture
def server(settings):
    settings.FETCH_ALLOW_PRIVATE = True
    with FeedServer() as running:
        yield running


def hf_file(tmp_path, entries: list[dict]) -> Path:
    path = tmp_path / "hf.json"
    path.write_text(json.dumps(entries))
    return path


def hf_entry(arxiv_id: str, upvotes: int = 0, title: str = "A paper") -> dict:
    return {"paper": {"id": arxiv_id, "title": title, "upvotes": upvotes}, "numComments": 2}


def test_it_stores_a_files_papers_as_that_days_ranked_listing():
    run = ingest_file(AUG29)
    assert (run.status, run.new, run.updated, run.unchanged, run.rejected) == ("ok", 67, 0, 0, 0)
    assert run.day == dt.date(2025, 8, 29)
    assert run.source.name == "Files: RSS/Atom feed"
    assert not run.source.enabled  # nothing to fetch: the beat must not try
    listings = Listing.objects.filter(day=dt.date(2025, 8, 29)).order_by("rank")
    assert [listing.paper.key for listing in listings[:2]] == ["seed-paper-00", "seed-paper-01"]
    assert Paper.objects.count() == 67


def test_it_changes_nothing_when_the_same_file_is_ingested_twice():
    ingest_file(AUG29)
    before = list(Paper.objects.order_by("key").values())
    listings = list(Listing.objects.order_by("pk").values())
    run = ingest_file(AUG29)
    assert (run.new, run.updated, run.unchanged) == (0, 0, 67)
    assert list(Paper.objects.order_by("key").values()) == before
    assert list(Listing.objects.order_by("pk").values()) == listings


def test_it_keeps_one_paper_per_arxiv_id_across_sources(tmp_path):
    ingest_file(LISTING)
    run = ingest_file(
        hf_file(tmp_path, [hf_entry("2604.21935", upvotes=5)]), day=dt.date(2026, 4, 27)
    )
    paper = Paper.objects.get(key="arxiv:2604.21935")
    assert (run.new, run.updated) == (0, 1)
    assert paper.categories == ["cs.AI", "cs.LG"]  # kept: Hugging Face has none
    assert paper.title == "A paper"
    assert (paper.upvotes, paper.comments) == (5, 2)
    assert paper.hf_url == "https://huggingface.co/papers/2604.21935"
    assert paper.listings.count() == 2


def test_it_refreshes_popularity_on_every_ingest(tmp_path):
    day = dt.date(2026, 8, 20)
    ingest_file(hf_file(tmp_path, [hf_entry("2608.00001", upvotes=3)]), day=day)
    run = ingest_file(hf_file(tmp_path, [hf_entry("2608.00001", upvotes=40)]), day=day)
    assert (run.new, run.updated) == (0, 1)
    assert Paper.objects.get().upvotes == 40
    assert Listing.objects.get().upvotes == 40


def test_it_updates_a_paper_to_a_new_version_and_never_back(tmp_path):
    v1 = LISTING.read_bytes()
    v2 = v1.replace(b"2604.21935v1", b"2604.21935v2").replace(b"Math Takes Two:", b"Math Takes 2:")
    (tmp_path / "v2.xml").write_bytes(v2)
    ingest_file(LISTING)
    first_seen = Paper.objects.get(key="arxiv:2604.21935").first_seen_at
    assert ingest_file(tmp_path / "v2.xml").updated == 1
    assert ingest_file(LISTING).updated == 0  # an older version changes nothing
    paper = Paper.objects.get(key="arxiv:2604.21935")
    assert (paper.version, paper.title[:13]) == (2, "Math Takes 2:")
    assert paper.first_seen_at == first_seen


def test_it_stores_in_a_few_queries_per_batch_not_one_per_item():
    def queries(path: Path) -> int:
        with CaptureQueriesContext(connection) as captured:
            ingest_file(path)
        return len(captured)

    # 3 items or 67: the same statements, except that SQLite's limit of 999 parameters a
    # statement makes Django split a batch's INSERT in two.
    assert queries(AUG29) - queries(LISTING) <= 1


def test_it_stores_the_good_items_records_rejections_and_marks_the_run_partial(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(
        b"""<rss version="2.0"><channel>
        <item><title>Good</title><guid>g1</guid></item>
        <item><description>No title</description><guid>g2</guid></item>
        </channel></rss>"""
    )
    run = ingest_file(path)
    assert (run.status, run.new, run.rejected) == ("partial", 1, 1)
    assert run.errors == ["item 2: no title (g2)"]
    run.source.refresh_from_db()
    assert run.source.last_status == "partial"
    assert run.source.last_counts == {"new": 1, "updated": 0, "unchanged": 0, "rejected": 1}


def test_it_stores_the_complete_items_of_a_truncated_feed(tmp_path):
    body = AUG29.read_bytes()
    (tmp_path / "cut.rss").write_bytes(body[: len(body) // 2])
    run = ingest_file(tmp_path / "cut.rss")
    assert run.status == "partial"
    assert run.new > 20
    assert "malformed feed" in run.error


def test_it_treats_an_empty_weekend_listing_as_a_normal_run(tmp_path):
    body = LISTING.read_bytes()
    (tmp_path / "sat.xml").write_bytes(body[: body.index(b"<item>")] + b"</channel></rss>")
    run = ingest_file(tmp_path / "sat.xml", day=dt.date(2026, 4, 25))
    assert (run.status, run.new, run.error) == ("ok", 0, "")


def test_it_fetches_a_source_and_then_asks_only_for_changes(server):
    server.routes["/rss/cs.AI"] = Reply(LISTING.read_bytes(), headers={"ETag": '"day1"'})
    source = Source.objects.create(
        name="arXiv cs.AI", kind=Source.Kind.ARXIV_LISTING, url=server.url("/rss/cs.AI")
    )
    run = ingest_source(source)
    assert (run.status, run.new, run.day) == ("ok", 3, dt.date(2026, 4, 27))
    source.refresh_from_db()
    assert source.etag == '"day1"'

    server.routes["/rss/cs.AI"] = Reply(status=304)
    run = ingest_source(source)
    assert server.requests[-1][1]["If-None-Match"] == '"day1"'
    assert (run.status, run.new, run.unchanged, run.error) == (
        "ok",
        0,
        0,
        "not modified since the last run",
    )


def test_it_asks_hugging_face_for_the_day_it_ingests(server):
    server.routes["/api/daily_papers?date=2026-08-20&limit=100"] = Reply(HF.read_bytes())
    source = Source.objects.create(
        name="HF", kind=Source.Kind.HF_DAILY, url=server.url("/api/daily_papers")
    )
    run = ingest_source(source, dt.date(2026, 8, 20))
    assert (run.status, run.new, run.day) == ("ok", 15, dt.date(2026, 8, 20))
    assert Listing.objects.filter(day=dt.date(2026, 8, 20), rank=1).get().upvotes == 92


def test_it_records_the_arxiv_api_explanation_of_a_400(server):
    body = json.loads((DATA / "arxiv_api_atom_2026_error_invalid_id.fixture.json").read_text())
    server.routes["/api/query"] = Reply(body["body"].encode("latin-1"), status=400)
    source = Source.objects.create(
        name="API", kind=Source.Kind.ARXIV_API, url=server.url("/api/query")
    )
    run = ingest_source(source)
    assert run.status == "error"
    assert run.error.endswith("arXiv API error: incorrect id format for abc")
    assert run.error.startswith("HTTP 400")


def test_the_task_ingests_one_source_by_id(server):
    server.routes["/feed"] = Reply(AUG29.read_bytes())
    source = Source.objects.create(name="Page", kind=Source.Kind.FEED, url=server.url("/feed"))
    result = ingest_source_task(source.pk, "2025-08-30")
    run = SourceRun.objects.get()
    assert result == {"source": source.pk, "run": run.pk, "status": "ok"}
    assert run.day == dt.date(2025, 8, 30)
    assert ingest_source_task(source.pk + 1) == {"source": source.pk + 1, "status": "missing"}


def test_the_command_prints_each_source_and_a_summary_with_reasons(server):
    server.routes["/good"] = Reply(AUG29.read_bytes())
    server.routes["/bad"] = Reply(b"<rss><channel><item><guid>x</guid></item></channel></rss>")
    Source.objects.create(name="A good feed", kind=Source.Kind.FEED, url=server.url("/good"))
    Source.objects.create(name="B bad feed", kind=Source.Kind.FEED, url=server.url("/bad"))
    Source.objects.create(name="C off", kind=Source.Kind.FEED, url=server.url("/x"), enabled=False)
    out = StringIO()
    call_command("ingest", stdout=out)
    text = out.getvalue()
    assert "[1/2] Fetching A good feed ..." in text
    assert "[2/2] Fetching B bad feed ..." in text
    assert "rejected item 1: no title (x)" in text
    assert "Summary: 2 run(s), 0 failed; 67 new, 0 updated, 0 unchanged, 1 rejected" in text
    assert "C off" not in text


def test_the_command_stores_saved_files():
    out = StringIO()
    call_command("ingest", "--file", str(AUG29), "--date", "2025-08-29", stdout=out)
    assert "Summary: 1 run(s), 0 failed; 67 new" in out.getvalue()
    assert Listing.objects.filter(day=dt.date(2025, 8, 29)).count() == 67


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("hf_daily_papers_2026-08-20.json", dt.date(2026, 8, 20)),  # submittedOnDailyAt
        ("hf_daily_papers_2024-05-27.json", dt.date(2024, 5, 27)),  # the entries' publishedAt
    ],
)
def test_the_command_files_a_hugging_face_day_under_its_own_date_not_today(name, day):
    call_command("ingest", "--file", str(DATA / name), stdout=StringIO())
    assert set(Listing.objects.values_list("day", flat=True)) == {day}


def test_the_demo_command_can_run_twice_without_doubling_anything():
    call_command("demo", stdout=StringIO())
    counts = (Paper.objects.count(), Listing.objects.count(), Subscriber.objects.count())
    out = StringIO()
    call_command("demo", stdout=out)
    assert (Paper.objects.count(), Listing.objects.count(), Subscriber.objects.count()) == counts
    assert counts[0] == 13 + 26 + 15
    active = Subscriber.objects.active()
    assert active.count() == 3
    assert all(s.next_send_at and s.topics.exists() for s in active)
    assert "Demo ready." in out.getvalue()


def test_it_lists_a_stale_arxiv_feed_on_the_day_it_names_not_today(server):
    server.routes["/rss/cs.AI"] = Reply(LISTING.read_bytes())
    source = Source.objects.create(
        name="arXiv cs.AI", kind=Source.Kind.ARXIV_LISTING, url=server.url("/rss/cs.AI")
    )
    run = ingest_source(source, dt.date(2026, 4, 28))
    assert run.day == dt.date(2026, 4, 27)
    assert Listing.objects.filter(day=dt.date(2026, 4, 28)).count() == 0


def test_it_sends_no_validators_of_another_day_to_hugging_face(server):
    server.routes["/api/daily_papers?date=2026-08-21&limit=100"] = Reply(b"[]")
    source = Source.objects.create(
        name="HF", kind=Source.Kind.HF_DAILY, url=server.url("/api/daily_papers"), etag='"aug20"'
    )
    assert ingest_source(source, dt.date(2026, 8, 21)).status == "ok"
    assert "If-None-Match" not in server.requests[0][1]


def test_every_demo_paper_has_authors_upvotes_and_a_link_to_the_paper_itself():
    call_command("demo", stdout=StringIO())
    papers = list(Paper.objects.all())
    assert len(papers) == 54
    assert all(p.authors and p.url == f"https://arxiv.org/abs/{p.arxiv_id}" for p in papers)
    assert sum(p.upvotes > 0 for p in papers) > 40
    today = timezone.now().date()
    days = sorted(set(Listing.objects.values_list("day", flat=True)))
    assert days == [today - dt.timedelta(days=n) for n in (2, 1, 0)]


def test_the_demo_command_fills_an_empty_catalogue():
    Topic.objects.all().delete()
    call_command("demo", stdout=StringIO())
    assert Topic.objects.count() == 5
    ada = Subscriber.objects.get(email="ada@example.com")
    assert sorted(ada.topics.values_list("name", flat=True)) == [
        "LLM agents",
        "Large language models",
    ]


def test_it_records_a_body_its_parser_cannot_read_instead_of_failing_the_task(tmp_path):
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)  # json.loads: RecursionError
    run = ingest_file(path)
    assert run.status == "error"
    assert run.error.startswith("could not parse the feed (RecursionError")
