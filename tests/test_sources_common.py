"""Identity, clean text, authors and format detection shared by every source."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.ingest.feedtext import plain
from digest.ingest.sources import detect
from digest.ingest.sources.common import (
    Rejected,
    arxiv_id,
    identify,
    split_authors,
)
from digest.ingest.sources.safexml import strip_doctype

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2604.21935", ("2604.21935", None)),
        ("arXiv:2604.21935v1", ("2604.21935", 1)),
        ("oai:arXiv.org:2604.21935v12", ("2604.21935", 12)),
        ("http://arxiv.org/abs/2202.12139v1", ("2202.12139", 1)),
        ("https://arxiv.org/pdf/2202.12139v2.pdf", ("2202.12139", 2)),
        ("https://huggingface.co/papers/2608.16590", ("2608.16590", None)),
        ("http://arxiv.org/abs/cs/0503050v1", ("cs/0503050", 1)),
        ("oai:arXiv.org:math.GT/0309136", ("math.GT/0309136", None)),
        ("0704.0001", ("0704.0001", None)),
    ],
)
def test_it_finds_the_bare_arxiv_id_and_version(text, expected):
    assert arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    ["seed-paper-01", "https://github.com/a/b", "https://arxiv.org/list/cs.AI/new", "", None],
)
def test_it_finds_no_arxiv_id_where_there_is_none(text):
    assert arxiv_id(text) is None


def test_it_prefers_the_arxiv_id_then_the_guid_then_the_link():
    assert identify("T", guid="g", link="https://arxiv.org/abs/2401.00001")[0] == "arxiv:2401.00001"
    assert identify("T", guid="seed-paper-01", link="https://x.org/p") == (
        "seed-paper-01",
        "",
        None,
    )
    assert identify("T", link="https://x.org/p")[0] == "https://x.org/p"


def test_it_rejects_an_item_without_a_title_or_an_identity():
    with pytest.raises(Rejected, match="no title"):
        identify("", guid="g")
    with pytest.raises(Rejected, match="no guid, link or arXiv id"):
        identify("A title", link="javascript:alert(1)")


def test_it_collapses_arxiv_line_wraps_and_keeps_tex():
    title = "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal\n  Models"
    assert plain(title) == (
        "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    )
    tex = r"For $0<x<1$ and $p<q$, \textbf{bounds} hold with $\omega$ and $a > b$."
    assert plain(tex) == tex


def test_it_decodes_escaped_text_until_no_markup_is_left():
    assert plain("<p>Tom &amp;amp; Jerry &lt;3</p>") == "Tom & Jerry <3"
    assert plain("AT&amp;T") == "AT&T"
    # Escaped markup, once or twice, goes like markup.
    assert (
        plain(
            "&lt;b onmouseover=x&gt;bold&lt;/b&gt; &amp;lt;script&amp;gt;x&amp;lt;/script&amp;gt;"
        )
        == "bold"
    )


def test_it_splits_arxiv_author_strings():
    assert split_authors("Michael Cooper, Samuel Cooper") == ["Michael Cooper", "Samuel Cooper"]
    assert split_authors("A. One, B. Two, and C. Three") == ["A. One", "B. Two", "C. Three"]
    assert split_authors("A. One and B. Two") == ["A. One", "B. Two"]
    assert split_authors(r"J\"org M (Univ A, Univ B), Nikola Pi\v{z}urica") == [
        r"J\"org M",
        r"Nikola Pi\v{z}urica",
    ]


def test_it_strips_a_doctype_with_its_internal_subset():
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "]>">\n<!-- ]> -->\n'
        b'<!ENTITY % p SYSTEM "http://x/">%p;]>\n<rss/>'
    )
    assert strip_doctype(body) == b'<?xml version="1.0"?>\n\n<rss/>'
    assert strip_doctype(b'<!DOCTYPE rss SYSTEM "http://x/evil.dtd"><rss/>') == b"<rss/>"
    assert strip_doctype(b"<rss/>") == b"<rss/>"
    assert strip_doctype(b'<!DOCTYPE a><!DOCTYPE b [<!ENTITY x "y">]><rss/>') == b"<rss/>"
    assert strip_doctype(b'<rss/><!DOCTYPE b [<!ENTITY x "unterminated') == b"<rss/>"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("hf_daily_papers_2026-08-20.json", "hf_daily"),
        ("hf_daily_papers_2024-05-27.json", "hf_daily"),
        ("arxiv_rss2_rss.arxiv.org_cs.AI_trimmed.xml", "arxiv_listing"),
        ("arxiv_api_atom_2026_q_testing_m100.body.xml", "arxiv_api"),
        ("hf_daily_papers_community_rss_huangboming_feed.xml", "feed"),
        ("daily-papers-aug29.rss", "feed"),
    ],
)
def test_it_detects_a_files_format_from_its_content(name, kind):
    assert detect((DATA / name).read_bytes()) == kind
