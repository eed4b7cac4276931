"""The field's vocabulary, learned from the papers themselves: acronyms and what they
stand for, and the filler words of the field.

Abstracts define their acronyms ("graph neural networks (GNNs)", "retrieval-augmented
generation (RAG)"), so a day's papers teach which long form "GNN" or "RAG" means without a
hand-written list. Plain Python, no Django imports.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from digest.search.text import clean, fold, stem

# "(GNNs)", "(RAG)", "(CoT)", "(3DGS)": a short parenthesised word with two capitals or more.
_DEFINED = re.compile(r"\(([A-Za-z0-9][A-Za-z0-9\-]{1,11})\)")
_CLAUSE_END = re.compile(r"[.;:()\[\]!?]")
_WORDS = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class LongForm:
    stems: tuple[str, ...]  # "graph neural networks" -> ("graph", "neural", "network")
    text: str  # as most papers write it, lower case: "graph neural networks"


def acronym_key(surface: str) -> str:
    """The stem an acronym is known by: "GNNs", "GNN" and "gnn" are all "gnn"."""
    return stem(fold(surface.replace("-", "")))


def _singular(short: str) -> str:
    """ "LLMs" -> "LLM"; "MoE" and "AIs"-like words of one capital stay."""
    if short.endswith("s") and sum(ch.isupper() for ch in short[:-1]) >= 2:
        return short[:-1]
    return short


def long_form(short: str, before: str) -> str | None:
    """The words just before ``(short)`` that ``short`` abbreviates, or None.

    Schwartz and Hearst's algorithm (PSB 2003): match the acronym's letters right to left
    against the preceding words, the first letter at the start of a word, within
    min(n + 5, 2n) words for an acronym of n letters."""
    letters = [ch.lower() for ch in _singular(short) if ch.isalnum()]
    if len(letters) < 2:
        return None
    words = before.split()[-min(len(letters) + 5, len(letters) * 2) :]
    text = " ".join(words)
    i, j = len(letters) - 1, len(text) - 1
    while i >= 0:
        want = letters[i]
        while j >= 0 and (text[j].lower() != want or (i == 0 and j > 0 and text[j - 1].isalnum())):
            j -= 1
        if j < 0:
            return None
        i -= 1
        j -= 1
    found = text[text.rfind(" ", 0, j + 1) + 1 :]
    # One word is a spelling, not a definition ("Transformer (TF)" is too weak to learn).
    if len(_WORDS.findall(found)) < 2 or found.lower().startswith(_singular(short).lower()):
        return None
    return found


def definitions(text: str) -> Iterable[tuple[str, str]]:
    """(acronym, long form) pairs a text defines, as written."""
    for match in _DEFINED.finditer(text):
        short = match.group(1)
        if sum(ch.isupper() for ch in short) < 2:
            continue
        before = _CLAUSE_END.split(text[max(0, match.start() - 200) : match.start()])[-1]
        found = long_form(short, before)
        if found:
            yield short, found


class Glossary:
    """Acronyms of a set of papers and their most common long form.

    ``add`` every paper's text, then read ``expansions`` (acronym stem -> LongForm) and
    ``acronyms`` (long form stems -> acronym stem)."""

    def __init__(self) -> None:
        self._seen: dict[str, Counter] = defaultdict(Counter)
        self._written: dict[tuple[str, tuple[str, ...]], Counter] = defaultdict(Counter)
        self.expansions: dict[str, LongForm] = {}
        self.acronyms: dict[tuple[str, ...], str] = {}

    def add(self, text: str) -> None:
        for short, found in definitions(clean(text)):
            words = tuple(fold(w) for w in _WORDS.findall(found))
            stems = tuple(stem(w) for w in words)
            key = acronym_key(_singular(short))
            self._seen[key][stems] += 1
            self._written[key, stems][" ".join(words)] += 1

    def finish(self) -> Glossary:
        for key, forms in self._seen.items():
            # The most common long form; ties go to the shorter, then the first seen.
            stems = max(forms, key=lambda s: (forms[s], -len(s)))
            text = self._written[key, stems].most_common(1)[0][0]
            self.expansions[key] = LongForm(stems, text)
            self.acronyms.setdefault(stems, key)
        self._seen.clear()
        self._written.clear()
        return self

    def expand(self, words: list[str]) -> str:
        """``words`` (as typed) with each known acronym followed by its long form:
        "RL for math reasoning" -> "RL reinforcement learning for math reasoning"."""
        out = []
        for word in words:
            out.append(word)
            if sum(ch.isupper() for ch in word) >= 2:
                found = self.expansions.get(acronym_key(_singular(word)))
                if found is not None:
                    out.append(found.text)
        return " ".join(out)
