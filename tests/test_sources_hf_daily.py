"""Hugging Face Daily Papers JSON, on real captures from 2024, 2025 and 2026."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from digest.ingest.sources import hf_daily
from digest.models import Source

DATA = Path(__file__).parent / "data"


def parse(name: str):
    return hf_daily.parse((DATA / name).read_bytes())


def test_it_reads_every_paper_of_the_2026_shape_in_rank_order():
    parsed = parse("hf_daily_papers_2026-08-20.json")
    assert (len(parsed.items), parsed.rejected, parsed.error) == (15, [], "")
    assert parsed.day == dt.date(2026, 8, 20)
    first = parsed.items[0]
    assert (first.key, first.arxiv_id) == ("arxiv:2608.16590", "2608.16590")
    assert first.title.startswith("Zetta ζ: An Efficient Closed-Loop Embodied Harness")
    assert first.authors[:3] == ["Xin Ding", "Liang Mi", "Mingzhe Huang"]
    assert (first.upvotes, first.comments) == (92, 1)
    assert first.code_url == "https://github.com/air-embodied-brain/Zetta-Embodiment"
    assert first.project_url == "https://air-embodied-brain.github.io/zetta/"
    assert first.hf_url == "https://huggingface.co/papers/2608.16590"
    assert first.abs_url == "https://arxiv.org/abs/2608.16590"
    assert first.published_at == dt.datetime(2026, 8, 17, tzinfo=dt.UTC)
    assert first.categories == []  # the API has none


def test_it_keeps_the_summary_keywords_and_github_stars_where_the_source_gives_them():
    first = parse("hf_daily_papers_2026-08-20.json").items[0]
    assert first.summary.startswith("Zetta is a closed-loop embodied harness that evolves")
    assert first.keywords[:2] == ["closed-loop embodied harness", "code-based runtime critics"]
    assert first.github_stars == 152
    no_code = next(i for i in parse("hf_daily_papers_2026-08-20.json").items if not i.code_url)
    assert no_code.github_stars is None
    older = parse("hf_daily_papers_2024-05-27.json").items[0]
    assert (older.summary, older.keywords, older.github_stars) == ("", [], None)
    assert parse("hf_daily_papers_2025-03-14.json").items[0].keywords[:2] == [
        "text-to-image models",
        "stable diffusion",
    ]


def test_it_cleans_and_bounds_keywords_and_ignores_odd_stars():
    entries = json.loads((DATA / "hf_daily_papers_2026-08-20.json").read_bytes())[:1]
    paper = entries[0]["paper"]
    paper["ai_keywords"] = ["<b>diffusion</b>", "diffusion", 7, "", *map(str, range(100))]
    paper["githubStars"] = "-5"
    paper["ai_summary"] = "<script>x</script>One line."
    [item] = hf_daily.parse(json.dumps(entries).encode()).items
    assert item.keywords[:2] == ["diffusion", "0"] and len(item.keywords) == 40
    assert (item.github_stars, item.summary) == (None, "One line.")


@pytest.mark.django_db
def test_it_stores_them_on_the_paper_and_refreshes_the_stars(tmp_path):
    from digest.ingest.store import ingest_file
    from digest.models import Paper

    path = DATA / "hf_daily_papers_2026-08-20.json"
    ingest_file(path, day=dt.date(2026, 8, 20))
    zetta = Paper.objects.get(arxiv_id="2608.16590")
    assert zetta.summary.startswith("Zetta is a closed-loop")
    assert "Z-Infra" in zetta.keywords and zetta.github_stars == 152
    entries = json.loads(path.read_bytes())
    entries[0]["paper"]["githubStars"] = 160
    (tmp_path / "later.json").write_text(json.dumps(entries))
    assert ingest_file(tmp_path / "later.json", day=dt.date(2026, 8, 20)).updated == 1
    assert Paper.objects.get(arxiv_id="2608.16590").github_stars == 160


def test_it_collapses_the_hard_wrapped_titles_of_2024():
    parsed = parse("hf_daily_papers_2024-05-27.json")
    assert len(parsed.items) == 13
    assert parsed.items[0].title == (
        "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    )
    assert all("\n" not in item.abstract for item in parsed.items)


def test_it_reads_the_2025_shape():
    parsed = parse("hf_daily_papers_2025-03-14.json")
    assert (len(parsed.items), parsed.rejected) == (26, [])
    assert parsed.items[0].upvotes == 29


def test_it_treats_an_empty_day_as_normal():
    parsed = hf_daily.parse(b"[]")
    assert (parsed.items, parsed.rejected, parsed.error) == ([], [], "")


def test_it_rejects_an_entry_without_an_arxiv_id_and_keeps_the_rest():
    entries = json.loads((DATA / "hf_daily_papers_2026-08-20.json").read_bytes())[:2]
    del entries[0]["paper"]["id"]
    parsed = hf_daily.parse(json.dumps([*entries, "junk"]).encode())
    assert len(parsed.items) == 1
    assert parsed.rejected[0].startswith("item 1: no guid, link or arXiv id")
    assert parsed.rejected[1] == "item 3: not a JSON object"


def test_it_reports_a_body_that_is_not_json():
    assert hf_daily.parse(b"<html>rate limited</html>").error.startswith("not JSON")


def test_it_asks_for_the_day_it_ingests():
    source = Source(name="HF", kind=Source.Kind.HF_DAILY)
    assert hf_daily.url(source, dt.date(2026, 8, 20)) == (
        "https://huggingface.co/api/daily_papers?date=2026-08-20&limit=100"
    )


def test_it_rejects_entries_of_the_wrong_shape_without_stopping():
    odd = [
        {"paper": {"id": 2608.1, "title": ["a", "list"], "authors": "abc", "upvotes": "many"}},
        {"paper": None, "title": "No paper"},
        {"paper": {"id": "2608.00002", "title": "Fine", "authors": [None, {"name": 7}]}},
        5,
        None,
    ]
    parsed = hf_daily.parse(json.dumps(odd).encode())
    assert [item.key for item in parsed.items] == ["arxiv:2608.00002"]
    assert parsed.items[0].authors == ["7"]
    assert len(parsed.rejected) == 4


def test_a_project_page_that_is_the_papers_own_arxiv_page_is_dropped():
    items = {item.arxiv_id: item for item in parse("hf_daily_papers_2026-08-20.json").items}
    # The real entry gives https://arxiv.org/pdf/2608.14929 as its project page.
    assert items["2608.14929"].project_url == ""
    assert items["2608.14929"].pdf_url == "https://arxiv.org/pdf/2608.14929"
    assert items["2608.16590"].project_url == "https://air-embodied-brain.github.io/zetta/"
