"""Matching by meaning, in the engine: acronyms learned from the papers, the blend of
words and meaning, the cut, the why, exact syntax kept exact, and a missing model."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from digest.search import embedding
from digest.search import language as tl
from digest.search.index import Doc, PaperIndex
from digest.search.meaning import zscores
from digest.search.vocabulary import Glossary, long_form
from tests.support.sample_papers import sample_docs


@pytest.fixture(scope="module")
def model():
    found = embedding.load()
    assert found is not None, "the model shipped in digest/search/model/ must load"
    return found


@pytest.fixture(scope="module")
def day(model):
    """The 260 sample papers, with meaning."""
    keys, docs = sample_docs()
    return keys, PaperIndex(docs, encoder=model)


def titles(index: PaperIndex, hits) -> set[str]:
    return {index.docs[d].title for d in hits}


def paper_titled(index: PaperIndex, start: str) -> int:
    return next(n for n, d in enumerate(index.docs) if d.title.startswith(start))


# Acronyms ------------------------------------------------------------------------------


def test_it_learns_what_an_acronym_stands_for_from_a_definition():
    glossary = Glossary()
    glossary.add("We train graph neural networks (GNNs) on molecules.")
    glossary.add("Retrieval-augmented generation (RAG) grounds answers in documents.")
    glossary.finish()
    assert glossary.expansions["gnn"].text == "graph neural networks"
    assert glossary.expansions["rag"].stems == ("retriev", "augment", "generat")
    assert glossary.acronyms[("graph", "neural", "network")] == "gnn"


def test_it_learns_nothing_from_parentheses_that_define_nothing():
    assert long_form("BERT", "We fine-tune a strong encoder") is None
    assert long_form("GPU", "Runs on one") is None
    glossary = Glossary()
    glossary.add("Results (see Table 2) improve. We use a Transformer (TF).")
    assert not glossary.finish().expansions


def test_the_most_common_long_form_of_an_acronym_wins():
    glossary = Glossary()
    for text in ["automatic speech recognition (ASR)"] * 2 + ["attack success rate (ASR)"]:
        glossary.add(text)
    assert glossary.finish().expansions["asr"].text == "automatic speech recognition"


def test_it_writes_an_acronym_topic_out_in_full_before_embedding_it():
    glossary = Glossary()
    glossary.add("Reinforcement learning (RL) trains agents.")
    glossary.finish()
    assert glossary.expand(["RL", "for", "math"]) == "RL reinforcement learning for math"
    assert glossary.expand(["rl", "for", "math"]) == "rl for math"  # typed as a word


def test_an_acronym_topic_finds_papers_that_write_it_out_in_words():
    index = PaperIndex(
        [
            Doc("Scaling laws", "We study large language models (LLMs) at scale."),
            Doc("Tool use", "Large language models can call tools."),
            Doc("Vision", "Convolutional networks for images."),
        ]
    )
    assert titles(index, index.evaluate(tl.parse("LLMs"))) == {"Scaling laws", "Tool use"}
    assert titles(index, index.evaluate(tl.parse("LLM agents"))) == set()


def test_a_topic_in_full_finds_papers_that_write_only_the_learned_acronym():
    index = PaperIndex(
        [
            Doc("Distilling", "Knowledge distillation (KD) moves skills to a student."),
            Doc("Compact students", "We improve KD with curricula."),
            Doc("Other", "Nothing about it."),
        ]
    )
    found = titles(index, index.evaluate(tl.parse("knowledge distillation")))
    assert found == {"Distilling", "Compact students"}


# Blending and the cut --------------------------------------------------------------------


def test_a_plain_topic_finds_a_paper_holding_its_words_apart_by_meaning(day):
    _, index = day
    node = tl.parse("RL for math reasoning")
    paper = paper_titled(index, "RL on Incorrect Synthetic Data Scales")
    assert paper not in index.evaluate(node, meaning=False)  # the words are not together
    assert paper in index.topic(node)
    assert index.explain(node, paper).kind == "meaning"


def test_ranking_blends_words_and_meaning(day):
    _, index = day
    node = tl.parse("machine unlearning")
    by_words = index.evaluate(node, meaning=False)
    blended = index.topic(node)
    assert set(by_words) <= set(blended)
    assert any(blended[d] > by_words[d] for d in by_words)  # closeness adds relevance


def test_a_catalogue_topic_is_cut_to_the_papers_about_its_description(day):
    # "unlearning" alone takes a paper on math reasoning that mentions it in passing.
    _, index = day
    node = tl.parse('"machine unlearning", unlearning, "data removal", "right to be forgotten"')
    about = "Machine unlearning. Removing what a model learned from specific data."
    passing = paper_titled(index, "RL on Incorrect Synthetic Data Scales")
    assert passing in index.evaluate(node)
    cut = index.topic(node, about=about)
    assert passing not in cut
    assert paper_titled(index, "Intrinsic Evaluation of Unlearning") in cut


def test_a_catalogue_topic_keeps_papers_its_words_name_strongly_whatever_the_description(day):
    # Far from "Training, scaling and behaviour" in meaning, yet a paper on large language
    # models, which its title says; a paper naming them once in passing is still cut.
    _, index = day
    node = tl.parse('"large language model", LLM, "language model" pretraining')
    about = "Large language models. Training, scaling and behaviour of large language models."
    titled = paper_titled(index, "SoK: Machine Unlearning for Large Language Models")
    passing = paper_titled(index, "Do I look like a")
    assert {titled, passing} <= set(index.evaluate(node))
    cut = index.topic(node, about=about)
    assert titled in cut
    assert passing not in cut


def test_quotes_fields_and_exclusions_keep_their_exact_meaning(day):
    _, index = day
    for topic in ['"hypothesis testing"', "title:(hypothesis testing)", "author:Hinton"]:
        node = tl.parse(topic)
        assert index.topic(node) == index.evaluate(node, meaning=False), topic
    with_exclusion = index.topic(tl.parse("statistical hypothesis testing -Gaussian"))
    assert not any("gaussian" in index.docs[d].title.lower() for d in with_exclusion)


# Why ---------------------------------------------------------------------------------------


def test_a_paper_found_by_meaning_says_why_with_its_closest_sentence(day):
    _, index = day
    node = tl.parse("RL for math reasoning")
    paper = paper_titled(index, "RL on Incorrect Synthetic Data Scales")
    why = index.explain(node, paper)
    assert why.sentence and why.sentence in index.docs[paper].abstract
    assert "math" in why.terms


def test_highlights_never_mark_filler_words_of_the_field(day):
    _, index = day
    node = tl.parse("world models")
    for paper in index.topic(node):
        terms = index.explain(node, paper).terms
        assert "models" not in terms and "model" not in terms
        assert "world" in terms


def test_a_paper_found_by_its_words_says_so(day):
    _, index = day
    node = tl.parse("gaussian splatting")
    paper = paper_titled(index, "HDR-GS")
    assert index.explain(node, paper).kind == "words"


# Bad input ------------------------------------------------------------------------------


def test_a_paper_without_an_abstract_and_a_foreign_topic_match_without_error(model):
    _, docs = sample_docs()
    index = PaperIndex([*docs, Doc("Only a title about graph neural networks")], encoder=model)
    bare = len(index.docs) - 1
    assert index.space is not None
    assert index.space.closest_sentence("graph neural networks", "") == ""
    for topic in ["apprentissage automatique", "машинное обучение", "グラフ"]:
        index.topic(tl.parse(topic))
    node = tl.parse("graph neural networks")
    assert index.explain(node, bare).kind in ("words", "meaning")


def test_a_missing_model_is_logged_and_matching_goes_on_by_words(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert embedding.load(tmp_path / "nowhere") is None
    assert "matching by words only" in caplog.text
    index = PaperIndex([Doc("Graph neural networks", "GNNs.")], encoder=None)
    assert index.topic(tl.parse("graph neural networks"))


def test_a_corrupt_model_is_logged_and_not_used(tmp_path, caplog):
    broken = tmp_path / "broken"
    shutil.copytree(embedding.MODEL_DIR, broken)
    (broken / "model.safetensors").write_bytes(b"not a model")
    with caplog.at_level(logging.WARNING):
        assert embedding.load(broken) is None
    assert "Could not load the embedding model" in caplog.text


def test_a_small_day_matches_by_words_only(model):
    index = PaperIndex([Doc("Graph neural networks", "On graphs.")] * 3, encoder=model)
    assert index.space is None
    assert index.topic(tl.parse("graph neural networks"))


def test_stored_vectors_round_trip_as_float16(model):
    vector = model.encode(["graph neural networks"])[0]
    again = embedding.from_bytes(embedding.to_bytes(vector), model.dimensions)
    assert again is not None and float(again @ vector) > 0.999
    assert embedding.from_bytes(b"short", model.dimensions) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zscores_are_the_values_read_by_their_mean_and_standard_deviation(dtype):
    rng = np.random.default_rng(7)
    for size in (2, 9, 2500, 40_001):
        values = (rng.normal(size=size) * 30 + 500).astype(dtype)
        expected = (values - float(values.mean())) / float(values.std())
        assert np.array_equal(zscores(values), expected)
    assert not zscores(np.full(5, 0.5, dtype)).any()
    assert not zscores(np.ones(1, dtype)).any()
    assert zscores(np.zeros(0, dtype)).size == 0
