"""arXiv API Atom, on real answers: 100 results, no results, and an error entry."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from digest.ingest.sources import arxiv_api
from digest.models import Source

DATA = Path(__file__).parent / "data"


def fixture_body(name: str) -> bytes:
    # arxiv.py stored the bodies latin-1-decoded inside JSON.
    return json.loads((DATA / name).read_text())["body"].encode("latin-1")


def test_it_reads_every_entry_with_primary_category_first():
    parsed = arxiv_api.parse((DATA / "arxiv_api_atom_2026_q_testing_m100.body.xml").read_bytes())
    assert (len(parsed.items), parsed.rejected, parsed.error) == (100, [], "")
    assert parsed.day is None  # a query has no announcement day
    first = parsed.items[0]
    assert (first.key, first.version) == ("arxiv:2202.12139", 1)
    assert first.categories == ["cs.SE", "cs.LG"]
    assert first.authors == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert first.published_at == dt.datetime(2022, 2, 24, 15, 5, 19, tzinfo=dt.UTC)
    assert first.pdf_url == "https://arxiv.org/pdf/2202.12139"


def test_it_reads_old_style_ids():
    parsed = arxiv_api.parse((DATA / "arxiv_api_atom_2026_q_testing_m100.body.xml").read_bytes())
    old = [item for item in parsed.items if item.arxiv_id == "cs/0503050"]
    assert [item.key for item in old] == ["arxiv:cs/0503050"]


def test_it_reports_the_error_entry_as_the_feeds_error():
    parsed = arxiv_api.parse(fixture_body("arxiv_api_atom_2026_error_invalid_id.fixture.json"))
    assert parsed.items == []
    assert parsed.error == "arXiv API error: incorrect id format for abc"


def test_it_treats_no_results_as_normal():
    parsed = arxiv_api.parse(fixture_body("arxiv_api_atom_2026_empty_result.fixture.json"))
    assert (parsed.items, parsed.rejected, parsed.error) == ([], [], "")


def test_it_builds_the_query_url_from_the_params():
    source = Source(kind=Source.Kind.ARXIV_API, params={"query": "cat:cs.LG AND abs:distillation"})
    assert arxiv_api.url(source, dt.date(2026, 4, 27)) == (
        "http://export.arxiv.org/api/query?search_query=cat%3Acs.LG+AND+abs%3Adistillation"
        "&start=0&max_results=100&sortBy=submittedDate&sortOrder=descending"
    )
