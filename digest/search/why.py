"""Why a paper matched, as values: what the email, the web view, the previews and
``match --json`` show, and what a sent digest stores. Plain Python, no Django imports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Why:
    """Why a paper matched a topic: ``kind`` is "words" (the topic's words are in it),
    "meaning" (it is about the topic in other words) or "feedback" (it resembles papers
    the subscriber liked); ``terms`` are words to highlight, as written in the paper;
    ``sentence`` the sentence of the abstract closest to the topic (meaning only) or the
    title of the liked paper (feedback)."""

    kind: str = "words"
    terms: tuple[str, ...] = ()
    sentence: str = ""


def describe(topic: str, kind: str, terms: Sequence[str], sentence: str) -> str:
    """The one line an email or a page shows as "Why: ...".

    knowledge distillation: "distillation", "teacher"
    on-device inference, by meaning: "We deploy the model on a phone ..."
    because you liked "Sparse experts at scale"
    """
    if kind == "feedback":
        return f'because you liked "{sentence}"' if sentence else "because of papers you liked"
    if kind == "meaning":
        said = f': "{_shorten(sentence)}"' if sentence else ""
        return f"{topic}, by meaning{said}"
    if terms:
        return f"{topic}: " + ", ".join(f'"{t}"' for t in terms[:4])
    return topic


def _shorten(sentence: str, limit: int = 200) -> str:
    if len(sentence) <= limit:
        return sentence
    return sentence[: limit - 1].rsplit(" ", 1)[0] + "\u2026"
