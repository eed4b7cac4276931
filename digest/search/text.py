"""Text normalisation shared by the paper index and the topic language.

Both sides of a match go through the same functions, so "Mixture-of-Experts",
"mixtures of experts" and "MIXTURE OF EXPERT" meet on the same stems. Plain Python,
no Django imports.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

# Words too common to be a concept on their own. They are still indexed (with their
# positions) so quoted phrases such as "mixture of experts" match exactly.
_STOP = """a an and are as at be but by can do does for from has have how in into is it its
    of on or our over so such than that the their them then there these they this those
    to towards toward under up via vs was we were what when where which while who why will
    with within without you your"""
STOP_WORDS = frozenset(_STOP.split())

# A gap in positions between sentences, so words of two sentences are never "near".
SENTENCE_GAP = 10

_stemmer = snowballstemmer.stemmer("english")
# \textbf{word} keeps "word"; other TeX commands, braces and math marks go.
_TEX_WRAPPED = re.compile(r"\\[A-Za-z]+\*?\s*\{([^{}]*)\}")
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+\*?|\\.|[{}$^_~]")
_SENTENCE_END = re.compile(r"(?<=[\w)\]])[.!?;:](?=\s|$)|\n\s*\n")
# A word, or a hyphenated compound of words ("Mixture-of-Experts", "pre-training").
_DASHES = "\\-\u2010\u2011\u2013"  # hyphen-minus, hyphen, non-breaking hyphen, en dash
_WORD = re.compile(f"[^\\W_]+(?:['\u2019](?=[^\\W_]))?[^\\W_]*(?:[{_DASHES}][^\\W_]+)*")
_HYPHENS = re.compile(f"[{_DASHES}]")
_VOWELS = frozenset("aeiouy")


def clean(text: str) -> str:
    """Undo TeX markup and Unicode look-alikes; keep case. Paper text arrives as plain
    text (``digest.ingest.feedtext.plain``, the one cleaner of markup, ran at ingest)."""
    text = _TEX_WRAPPED.sub(r"\1", text or "")
    text = _TEX_COMMAND.sub(" ", text)
    return unicodedata.normalize("NFKC", text)


def fold(word: str) -> str:
    """Lower case without accents: "Schölkopf" -> "scholkopf"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The stem of one folded word. Acronym plurals ("llms", "gnns") lose their "s",
    which the Snowball stemmer leaves on words without vowels."""
    if len(word) > 2 and word.endswith("s") and not _VOWELS.intersection(word):
        word = word[:-1]
    return _stemmer.stemWord(word)


def is_acronym(surface: str) -> bool:
    """Two capitals or more, as in "MoE", "LLMs", "GAN"."""
    return sum(ch.isupper() for ch in surface) >= 2


@lru_cache(maxsize=200_000)
def _word(part: str) -> tuple[str, str, bool]:
    """(stem, folded surface, is an acronym) of one word as written; cached, as a day's
    papers use a few tens of thousands of distinct words."""
    if part.endswith(("'s", "\u2019s")):
        part = part[:-2]
    folded = fold(part)
    return stem(folded), folded, is_acronym(part)


@dataclass(slots=True)
class Analysis:
    tokens: list[tuple[str, int, str]]  # (stem, position, folded surface)
    acronyms: set[str]  # stems of the words written as acronyms ("MoE-PKT": moe, pkt)


def analyse(text: str) -> Analysis:
    """Every word of an already cleaned text, stemmed, with positions.

    A hyphenated compound gives its parts at consecutive positions and also the
    joined word at the first one, so "pre-training" is found by "pre-training",
    "pre training" and "pretraining". Sentences are SENTENCE_GAP positions apart.
    """
    out: list[tuple[str, int, str]] = []
    found: set[str] = set()
    position = 0
    for sentence in _SENTENCE_END.split(text):
        for match in _WORD.finditer(sentence):
            word = match.group()
            parts = _HYPHENS.split(word) if "-" in word or not word.isalnum() else (word,)
            if len(parts) > 1:
                stemmed, folded, _ = _word("".join(parts))
                out.append((stemmed, position, folded))
            for part in parts:
                stemmed, folded, acronym = _word(part)
                out.append((stemmed, position, folded))
                if acronym:
                    found.add(stemmed)
                position += 1
        position += SENTENCE_GAP
    return Analysis(out, found)


def initialism(words: list[str]) -> str:
    """ "mixture of experts" -> "moe"; the caller decides whether it is long enough."""
    return "".join(w[0] for w in words if w).lower()
