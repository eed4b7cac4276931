from __future__ import annotations

import html
import re

import pytest

from digest.matching import TopicSyntaxError, check_topic
from digest.search import language as tl


class TestTopicLanguage:
    def test_it_joins_plain_words_into_one_concept_without_stop_words(self):
        node = tl.parse("Mixture of Experts")
        assert isinstance(node, tl.Concept)
        assert node.units == (("mixtur",), ("expert",))
        assert node.acronyms == ("moe",)

    def test_it_keeps_stop_words_inside_quotes(self):
        node = tl.parse('"mixture of experts"')
        assert node == tl.Phrase(("mixtur", "of", "expert"), "mixtureofexpert")

    def test_it_reads_commas_and_or_as_alternatives(self):
        assert tl.parse("diffusion, score-based") == tl.parse("diffusion OR score-based")
        assert isinstance(tl.parse("diffusion | score-based"), tl.Or)

    def test_it_reads_minus_and_not_as_exclusions(self):
        node = tl.parse("unlearning -survey")
        spelled = tl.parse("unlearning NOT survey")
        assert isinstance(node, tl.And) and isinstance(spelled, tl.And)
        assert node.exclude == spelled.exclude
        assert isinstance(node.exclude[0], tl.Concept)
        assert node.exclude[0].units == (("survey",),)

    def test_it_reads_fields_with_and_without_a_space(self):
        assert tl.parse("title:diffusion") == tl.parse("title: diffusion")
        node = tl.parse("title:diffusion")
        assert isinstance(node, tl.Concept) and node.field == "title"
        assert tl.parse("author:Hinton") == tl.Author(("hinton",))
        assert tl.parse('au:"Geoffrey Hinton"') == tl.Author(("geoffrey", "hinton"))
        assert tl.parse("category:cs.CL") == tl.Category("cs.cl")
        assert tl.parse("cat:cs.*") == tl.Category("cs.", prefix=True)

    def test_it_applies_a_field_to_a_group(self):
        node = tl.parse("title:(graph neural) -author:Smith")
        assert isinstance(node, tl.And) and isinstance(node.include[0], tl.Concept)
        assert node.include[0].field == "title"
        assert node.exclude == (tl.Author(("smith",)),)

    @pytest.mark.parametrize(
        "text",
        [
            "more like arXiv:2401.12345",
            "like:2401.12345",
            "like:arXiv:2401.12345v2",
            "arXiv:2401.12345",
            "similar to 2401.12345",
        ],
    )
    def test_it_reads_a_paper_as_a_topic(self, text):
        assert tl.parse(text) == tl.Like("2401.12345")

    def test_it_reads_a_prefix_wildcard(self):
        assert tl.parse("distill*") == tl.Prefix("distill")

    def test_it_treats_a_colon_after_an_unknown_word_and_a_space_as_text(self):
        node = tl.parse("LLM: reasoning")
        assert isinstance(node, tl.Concept) and node.units == (("llm",), ("reason",))

    def test_it_drops_an_alternative_made_only_of_common_words(self):
        assert tl.parse("towards, diffusion") == tl.parse("diffusion")

    def test_it_forgives_a_trailing_comma(self):
        assert tl.parse("diffusion, score-based,") == tl.parse("diffusion, score-based")


@pytest.mark.parametrize(
    ("text", "position", "says"),
    [
        ("", 0, "empty"),
        ('knowledge "distill', 10, "never closed"),
        ("foo:bar", 0, "Unknown field 'foo'"),
        ("dis*ll", 3, "only end a word"),
        ("di*", 0, "at least 3 letters"),
        ("-survey", 0, "not only exclusions"),
        ("(distillation", 0, "never closed"),
        ("distillation)", 12, "no matching '('"),
        ("the of", 0, "too common"),
        ("like:foo", 5, "arXiv id"),
        ("diffusion OR", 10, "Nothing after 'OR'"),
        ("title:", 0, "right after 'title:'"),
        ("author:(a b)", 7, "not a group"),
        ("x" * 501, 500, "at most 500"),
        ("((((((((((x))))))))))", 8, "nested"),
        ("a\x00b", 1, "NUL"),
        ('author:"..."', 7, "needs a name"),
        ("towards, the", 0, "too common"),
    ],
)
def test_it_says_where_and_why_a_topic_is_wrong(text, position, says):
    with pytest.raises(TopicSyntaxError) as caught:
        check_topic(text)
    assert caught.value.position == position
    assert says in str(caught.value)
    assert f"at character {position + 1}" in str(caught.value)


def test_every_example_of_the_cheat_sheet_parses():
    from pathlib import Path

    sheet = Path(__file__).parent.parent / "templates/digest/topic_syntax_help.html"
    examples = re.findall(r"<code>(.*?)</code>", sheet.read_text())
    examples = [html.unescape(e) for e in examples if e not in ("OR", "NOT", "abstract:")]
    assert len(examples) == 9
    for example in examples:
        tl.parse(example)
