from __future__ import annotations

import pytest

from digest.ingest.feedtext import (
    excerpt,
    first_sentence,
    highlight,
    paper_url,
    plain,
    safe_url,
    shorten_authors,
    wrap,
)


@pytest.mark.parametrize(
    ("authors", "shown"),
    [
        ([], ""),
        (["Ada Lovelace"], "Ada Lovelace"),
        (["A", "B"], "A and B"),
        (["A", "B", "C", "D"], "A, B, C and D"),
        (["A", "B", "C", "D", "E"], "A, B, C, … and 2 others"),
        ([{"name": "Ada"}, {"name": "Alan"}], "Ada and Alan"),
        (["<b>Ada</b>", "  ", "Alan"], "Ada and Alan"),
    ],
)
def test_it_shortens_author_lists(authors, shown):
    assert shorten_authors(authors) == shown


def test_it_cleans_only_the_authors_it_shows_of_a_long_collaboration():
    assert shorten_authors([f"Author {n}" for n in range(3000)]) == (
        "Author 0, Author 1, Author 2, … and 2997 others"
    )


def test_it_keeps_tex_comparisons_that_look_a_little_like_tags():
    assert plain("for $0<x<1$ and $y>2$, a<b") == "for $0<x<1$ and $y>2$, a<b"


def test_it_collapses_arxiv_hard_wraps_and_drops_tags():
    assert plain("ConvLLaVA: Hierarchical\n  Backbones <i>as</i>\tEncoder") == (
        "ConvLLaVA: Hierarchical Backbones as Encoder"
    )


def test_it_cuts_an_excerpt_at_a_word_or_inside_one_huge_word():
    assert excerpt("one two three four", 9) == "one two…"
    assert excerpt("x" * 50, 10) == "x" * 10 + "…"
    assert excerpt("short", 10) == "short"


def test_it_highlights_terms_written_with_accents_or_capitals():
    assert highlight("Bernhard Schölkopf on KERNELS", ["scholkopf", "kernels"]) == [
        ("Bernhard ", False),
        ("Schölkopf", True),
        (" on ", False),
        ("KERNELS", True),
    ]


def test_it_maps_highlights_back_when_a_letter_folds_to_two():
    assert highlight("Straße und Weg", ["strasse"]) == [("Straße", True), (" und Weg", False)]


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://arxiv.org/abs/2608.16590", True),
        ("http://example.org/x?a=1&b=2", True),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
        ("//evil.example/x", False),
        ("/relative", False),
        ("https://", False),
        ("https://exa mple.org/", False),
        ("ftp://example.org/", False),
        ("", False),
        (None, False),
    ],
)
def test_it_lets_only_absolute_http_links_through(url, kept):
    assert safe_url(url) == (url if kept else "")


def test_it_wraps_text_for_the_plain_part():
    assert wrap("aaa bbb ccc ddd", width=7) == "aaa bbb\nccc ddd"
    assert wrap("x" * 10 + " y", width=5) == "x" * 10 + "\ny"


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("<foo onload=alert(1)>Robot</foo> learning", "Robot learning"),
        ("<x/onclick=alert(1)>Robot", "Robot"),
        ("<custom-el data-x=1>Robot</custom-el>", "Robot"),
        ("&lt;img src=x onerror=alert(1)&gt;Robot", "Robot"),
        ("&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;Robot", "Robot"),
        ("Robot\u202egnp.exe\u202c learning", "Robotgnp.exe learning"),
        ("Ro\x00bot\x07 \u2066learning\u2069\ufeff", "Robot learning"),
        ("Ro\x85bot \ud800learning", "Robot learning"),
    ],
)
def test_it_strips_unknown_tags_escaped_markup_bidi_and_control_characters(text, clean):
    assert plain(text) == clean


@pytest.mark.parametrize(
    "url",
    [
        'https://github.com/x"><script/src=/static/x.js></script>',
        "https://github.com/x'onmouseover=alert(1)",
        "https://github.com/<x>",
        "https://github.com/x`y",
        "https://github.com/x\\y",
        "https://github.com/\u202ex",
    ],
)
def test_it_refuses_links_with_quotes_angle_brackets_or_hidden_characters(url):
    assert safe_url(url) == ""


def test_the_first_sentence_ends_at_a_full_stop_before_a_capital_not_at_an_abbreviation():
    text = "We study e.g. robots. Fig. 2 shows it all works out in the end. Then more."
    assert first_sentence(text) == (
        "We study e.g. robots. Fig. 2 shows it all works out in the end.",
        "Then more.",
    )
    assert first_sentence("No full stop at all") == ("No full stop at all", "")


def test_a_paper_links_to_its_arxiv_page_else_its_own_page_else_a_title_search():
    code = "https://github.com/a/b"
    assert paper_url("2401.00001", code, "T", code) == "https://arxiv.org/abs/2401.00001"
    assert paper_url("", "https://journal.example/1", "T") == "https://journal.example/1"
    assert paper_url("", code, "Tiny <b>models</b> & co", code) == (
        "https://arxiv.org/search/?query=Tiny+models+%26+co&searchtype=title"
    )
    assert paper_url("", "https://gitlab.com/x/y", "T").startswith("https://arxiv.org/search/")
    assert paper_url("", "javascript:alert(1)", "") == ""
