"""Properties of the topic language and the index, checked on generated topics and papers.

Hand-picked examples (tests/test_topic_language.py, tests/test_matching.py) say what a
topic means; these say what holds for every topic: the parser fails only with its own
error, pointing inside the text, and the index's alternatives and exclusions never
contradict their sides. Derandomized with no example database, so every run (and CI)
tries the same examples and nothing is written into the checkout.
"""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from digest.search import language as tl
from digest.search.index import Doc, PaperIndex

PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=300)
INDEX_PROPERTY = settings(PROPERTY, max_examples=150)

# A small vocabulary, so generated papers and topics share words often enough to match.
WORDS = [
    "graph",
    "neural",
    "networks",
    "diffusion",
    "model",
    "distillation",
    "distilling",
    "survey",
    "unlearning",
    "pre-training",
    "LLMs",
    "of",
    "the",
]
NAMES = ["Hinton", "Ana Müller", "Yann LeCun", "Qiu"]
CATEGORIES = ["cs.LG", "cs.CL", "stat.ML"]
IDS = ["2401.00001", "2401.00002", "arXiv:2401.00003", "hep-th/9901001"]
PIECES = [
    *WORDS,
    "OR",
    "AND",
    "NOT",
    "-",
    "*",
    '"',
    "“",
    "”",
    "(",
    ")",
    ",",
    ";",
    "|",
    "title:",
    "ti:",
    "abstract:",
    "author:",
    "category:",
    "like:",
    "more like ",
    "arXiv:",
    "bogus:",
    *IDS,
    "distill*",
    "cs.*",
]


def _joined(parts: list[str], separators: list[str]) -> str:
    return "".join(part + sep for part, sep in zip(parts, separators, strict=False))


grammar_text = st.builds(
    _joined,
    st.lists(st.sampled_from(PIECES), max_size=14),
    st.lists(st.sampled_from(["", " ", "  "]), min_size=14, max_size=14),
)


def _fails_only_with_its_own_error_inside_the_text(text: str) -> None:
    try:
        tl.parse(text)
    except tl.TopicSyntaxError as error:
        assert 0 <= error.position <= len(text), (error.position, len(text))


class TestParserProperties:
    @PROPERTY
    @given(st.text(max_size=80))
    def test_it_fails_only_with_a_syntax_error_inside_arbitrary_text(self, text):
        _fails_only_with_its_own_error_inside_the_text(text)

    @PROPERTY
    @given(grammar_text)
    def test_it_fails_only_with_a_syntax_error_inside_text_made_of_its_grammar(self, text):
        _fails_only_with_its_own_error_inside_the_text(text)

    @PROPERTY
    @given(grammar_text, st.text(max_size=6))
    def test_it_fails_only_with_a_syntax_error_when_grammar_meets_noise(self, text, noise):
        _fails_only_with_its_own_error_inside_the_text(text + noise + text)


# Topics that usually parse: a word, phrase, prefix, field or group, with exclusions.
word = st.sampled_from([w for w in WORDS if w not in ("of", "the")])
term = st.one_of(
    st.lists(word, min_size=1, max_size=3).map(" ".join),
    st.lists(word, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(["distill*", "network*", "title:graph", "abstract:diffusion"]),
    st.sampled_from([f"author:{n.split()[-1]}" for n in NAMES]),
    st.sampled_from([f"category:{c}" for c in CATEGORIES] + ["category:cs.*"]),
    st.lists(word, min_size=1, max_size=2).map(lambda ws: f"title:({' '.join(ws)})"),
)
topic = st.one_of(
    term,
    st.tuples(term, word).map(lambda t: f"{t[0]} -{t[1]}"),
    st.tuples(term, term).map(lambda t: f"({t[0]}) OR ({t[1]})"),
)
sentence = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join)
doc = st.builds(
    Doc,
    title=sentence,
    abstract=sentence,
    authors=st.lists(st.sampled_from(NAMES), max_size=2).map(tuple),
    categories=st.lists(st.sampled_from(CATEGORIES), max_size=2).map(tuple),
)
papers = st.lists(doc, min_size=1, max_size=8)


def _hits(index: PaperIndex, text: str) -> set[int]:
    try:
        node = tl.parse(text)
    except tl.TopicSyntaxError:
        assume(False)
    return set(index.topic(node))


class TestIndexProperties:
    @INDEX_PROPERTY
    @given(papers, topic, topic)
    def test_an_alternative_matches_every_paper_either_side_matches(self, docs, a, b):
        index = PaperIndex(docs, encoder=None)
        either = _hits(index, f"({a}) OR ({b})")
        assert _hits(index, a) <= either
        assert _hits(index, b) <= either

    @INDEX_PROPERTY
    @given(papers, topic, st.one_of(word, term))
    def test_an_exclusion_never_adds_a_paper(self, docs, a, c):
        index = PaperIndex(docs, encoder=None)
        assert _hits(index, f"({a}) -({c})") <= _hits(index, a)
