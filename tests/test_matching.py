"""The pure engine: normalisation, evaluation and ranking, no database."""

from __future__ import annotations

import pytest

from digest.search import language as tl
from digest.search import ranking
from digest.search.index import Doc, PaperIndex

DOCS = [
    Doc(
        "Emergent Mixture-of-Experts for dense transformers",
        "We construct Emergent Mixture-of-Experts (EMoE) without extra parameters.",
        authors=("Zihan Qiu", "Geoffrey E. Hinton"),
        categories=("cs.LG",),
        upvotes=40,
        arxiv_id="2401.00001",
    ),
    Doc(
        "Distilling step by step",
        "A teacher model distills knowledge into a student; we study distillation losses.",
        authors=("Ana Müller",),
        categories=("cs.CL",),
        upvotes=3,
        arxiv_id="2401.00002",
    ),
    Doc(
        "A survey of machine unlearning",
        "We review unlearning methods for large language models & their limits.",
        categories=("cs.LG", "cs.AI"),
    ),
    Doc(
        "Certified unlearning for $\\mathbf{linear}$ models",
        "Unlearning removes data. Sampling is covered here, and the negative results later.",
        categories=("stat.ML",),
    ),
    Doc(
        "Pre-training with negative sampling",
        "Sampled negative examples make contrastive pretraining work; MoE-PKT routes tasks.",
        categories=("cs.LG",),
        upvotes=100,
    ),
    Doc("Score-based generative models", "Diffusion via score matching."),
]


@pytest.fixture(scope="module")
def index():
    return PaperIndex(DOCS)


def found(index, topic: str) -> set[int]:
    return set(index.evaluate(tl.parse(topic)))


class TestMatching:
    def test_it_finds_a_concept_whatever_the_case_plural_or_hyphenation(self, index):
        assert found(index, "mixture of experts") == {0, 4}  # "MoE-PKT" is the acronym
        assert found(index, "MIXTURES OF EXPERT") == {0, 4}

    def test_it_finds_other_word_forms(self, index):
        assert found(index, "distillation") == {1}
        assert found(index, "distilled") == {1}

    def test_it_needs_the_words_of_a_concept_near_each_other(self, index):
        # Doc 3 has "sampling" and "negative" six words apart, doc 4 side by side.
        assert found(index, "negative sampling") == {4}

    def test_it_takes_a_title_with_the_head_word_that_stands_for_the_concept(self):
        docs = [Doc(f"Machine unlearning, part {n}", "Machine unlearning again.") for n in range(5)]
        docs += [
            Doc("Evaluating unlearning", "Forgetting data on request."),
            Doc(
                "Unlearning, said the poet, is a craft of machine makers", "The words stand apart."
            ),
            Doc("Learning machines", "Unlearning comes up once, in passing."),
        ]
        # 5 of the 8 papers with "unlearning" say "machine unlearning".
        assert found(PaperIndex(docs), "machine unlearning") == {0, 1, 2, 3, 4, 5}
        # Where the last word mostly means something else, it does not stand for the concept.
        docs += [Doc(f"Unlearning {n}", "Other unlearning.") for n in range(3)]
        assert found(PaperIndex(docs), "machine unlearning") == {0, 1, 2, 3, 4}

    def test_it_joins_and_splits_hyphenated_words(self, index):
        assert found(index, "pretraining") == {4}
        assert found(index, "pre-training") == {4}
        assert found(index, '"pre training"') == {4}

    def test_it_matches_quoted_phrases_in_order(self, index):
        assert found(index, '"mixture of experts"') == {0}
        assert found(index, '"experts of mixture"') == set()

    def test_it_matches_alternatives_and_exclusions(self, index):
        assert found(index, "diffusion, distillation") == {1, 5}
        assert found(index, "unlearning -survey") == {3}
        assert found(index, "unlearning NOT title:survey") == {3}

    def test_it_expands_a_prefix_wildcard(self, index):
        assert found(index, "distil*") == {1}
        assert found(index, "unlearn*") == {2, 3}

    def test_it_restricts_to_a_field(self, index):
        assert found(index, "title:unlearning") == {2, 3}
        assert found(index, "abstract:distillation") == {1}
        assert found(index, "title:negative") == {4}
        assert found(index, "author:hinton") == {0}
        assert found(index, 'author:"Geoffrey Hinton"') == set()  # the middle initial sits between
        assert found(index, 'author:"E Hinton"') == {0}
        assert found(index, "author:muller") == {1}
        assert found(index, "category:cs.cl") == {1}
        assert found(index, "category:cs.*") == {0, 1, 2, 4}

    def test_it_ignores_tex_leftovers(self, index):
        # Markup never reaches the index: ingest stores plain text (digest.ingest.feedtext).
        assert found(index, '"large language models"') == {2}
        assert found(index, "linear models") == {3}

    def test_it_finds_papers_like_a_given_one(self, index):
        probe = Doc("Unlearning certified", "Machine unlearning of linear models removes data.")
        hits = index.evaluate(tl.parse("like:2402.99999"), {"2402.99999": probe})
        assert 3 in hits
        assert not {0, 1, 4, 5} & set(hits)

    def test_it_finds_nothing_like_a_paper_it_does_not_know(self, index):
        assert found(index, "like:2402.99999") == set()

    def test_it_weighs_the_title_above_the_abstract(self, index):
        hits = index.evaluate(tl.parse("unlearning"))
        assert hits[2] > 0 and hits[3] > 0
        in_title = PaperIndex([Doc("Unlearning", "Other words here."), Doc("Other", "Unlearning.")])
        scores = in_title.evaluate(tl.parse("unlearning"))
        assert scores[0] > scores[1]

    def test_it_highlights_the_words_as_written(self, index):
        assert index.terms(tl.parse("distillation"), 1) == ("distilling", "distills")
        assert index.terms(tl.parse("distil* OR author:muller"), 1) == (
            "distilling",
            "distills",
            "distillation",
        )
        assert index.terms(tl.parse("author:muller"), 1) == ()

    def test_it_never_highlights_a_stop_word_of_a_phrase(self, index):
        # The phrase still needs its "of" in place to match; only the highlight drops it.
        for topic in ('"mixture of experts"', "mixture-of-experts"):
            assert 0 in found(index, topic)
            assert index.terms(tl.parse(topic), 0) == ("mixture", "experts")


class TestRanking:
    def test_it_blends_relevance_with_popularity(self, index):
        popular = ranking.popularity(index.docs)
        ranked = ranking.rank(index.evaluate(tl.parse("mixture of experts")), popular)
        assert [doc for _, doc, _ in ranked.entries] == [0, 4]
        assert popular[4] == 1.0
        assert ranking.blend(3.0, 1.0) > ranking.blend(3.0, 0.0)
        assert 0 < ranking.blend(100.0, 1.0) <= 1

    def test_it_cuts_each_subscribers_merged_topics_to_their_cap(self, index):
        popular = ranking.popularity(index.docs)
        topics = [
            ranking.rank(index.evaluate(tl.parse(t)), popular, n)
            for n, t in enumerate(["unlearning", "mixture of experts", "unlearn*"])
        ]
        picks = ranking.select(topics, cap=3)
        assert len(picks) == 3
        assert len({doc for _, doc, _ in picks}) == 3
        assert [s for s, _, _ in picks] == sorted((s for s, _, _ in picks), reverse=True)
        assert ranking.select(topics, cap=10, exclude={0, 2}) == [
            p for p in ranking.select(topics, cap=10) if p[1] not in {0, 2}
        ]
        assert all(s >= 0.5 for s, _, _ in ranking.select(topics, cap=10, min_score=0.5))
