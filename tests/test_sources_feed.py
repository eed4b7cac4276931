"""Generic RSS/Atom through feedparser, on the Daily Papers page and a community feed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from digest.ingest.sources import feed
from digest.models import Source

DATA = Path(__file__).parent / "data"


def test_it_keys_items_without_arxiv_ids_by_their_guid():
    parsed = feed.parse((DATA / "daily-papers-aug29.rss").read_bytes())
    assert (len(parsed.items), parsed.rejected, parsed.error) == (67, [], "")
    assert parsed.day == dt.date(2025, 8, 29)
    first = parsed.items[0]
    assert (first.key, first.arxiv_id) == ("seed-paper-00", "")
    assert first.title.startswith("Emergent Mixture-of-Experts")
    assert len({item.key for item in parsed.items}) == 67


def test_a_link_to_a_code_repository_is_the_papers_code_not_its_page():
    parsed = feed.parse((DATA / "daily-papers-aug29.rss").read_bytes())
    first = parsed.items[0]
    assert (first.abs_url, first.code_url) == ("", "https://github.com/qiuzh20/EMoE")
    project = next(item for item in parsed.items if "github.io" in item.abs_url)
    assert project.code_url == ""


def test_it_finds_arxiv_ids_in_links_and_cleans_html_descriptions():
    parsed = feed.parse((DATA / "hf_daily_papers_community_rss_huangboming_feed.xml").read_bytes())
    assert len(parsed.items) == 30
    first = parsed.items[0]
    assert first.key == "arxiv:2607.28609"
    assert first.abstract.startswith("Authors: Qiushi Sun, Kanzhi Cheng")
    assert "<" not in first.abstract
    assert "Summary: Computer-using agents (CUAs)" in first.abstract


def test_it_reads_the_upvotes_of_a_community_daily_papers_feed_out_of_the_abstract():
    parsed = feed.parse((DATA / "hf_daily_papers_community_rss_huangboming_feed.xml").read_bytes())
    assert [item.upvotes for item in parsed.items[:4]] == [52, 0, 0, 46]
    assert all(item.upvotes is not None for item in parsed.items)
    assert not any("Upvotes" in item.abstract for item in parsed.items)
    assert "Lingpeng Kong Summary: Computer-using agents" in parsed.items[0].abstract


def test_it_leaves_a_count_that_is_part_of_a_sentence_in_the_abstract():
    body = b"""<rss version="2.0"><channel><item><title>T</title><guid>g1</guid>
      <description>We prove it. Comments: 12 pages, 5 figures</description>
    </item></channel></rss>"""
    (item,) = feed.parse(body).items
    assert (item.abstract, item.upvotes, item.comments) == (
        "We prove it. Comments: 12 pages, 5 figures",
        None,
        None,
    )


def test_it_stores_the_complete_items_of_a_truncated_feed_and_rejects_the_cut_one():
    body = (DATA / "daily-papers-aug29.rss").read_bytes()
    cut = body[: body.rindex(b"<guid", 0, body.index(b"seed-paper-02"))]
    parsed = feed.parse(cut)
    assert [item.key for item in parsed.items] == ["seed-paper-00", "seed-paper-01"]
    assert parsed.rejected == ["item 3: cut off where the feed ends"]
    assert parsed.error.startswith("malformed feed")


def test_it_rejects_items_without_a_title_or_an_identity_with_reasons():
    body = b"""<rss version="2.0"><channel>
      <item><title>Kept</title><guid>k1</guid></item>
      <item><description>no title</description><guid>k2</guid></item>
      <item><title>Nowhere</title><description>no guid, no link</description></item>
    </channel></rss>"""
    parsed = feed.parse(body)
    assert [item.key for item in parsed.items] == ["k1"]
    assert parsed.rejected == [
        "item 2: no title (k2)",
        "item 3: no guid, link or arXiv id ('Nowhere')",
    ]


def test_it_needs_a_url():
    with pytest.raises(ValueError, match="no URL"):
        feed.url(Source(name="Blog", kind=Source.Kind.FEED), dt.date(2026, 1, 1))
