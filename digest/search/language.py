"""The topic language: what a subscriber or an operator types, parsed into a query tree.

    knowledge distillation        the words near each other, any form ("distilling knowledge")
    "mixture of experts"          an exact phrase (word forms still match: "mixtures of experts")
    diffusion, score-based        alternatives (also: diffusion OR score-based)
    unlearning -survey            exclusion (also: NOT survey)
    distill*                      prefix wildcard
    title:  abstract:  author:  category:   a field (title:(graph neural), category:cs.*)
    more like arXiv:2401.12345    papers similar to that one (also like:2401.12345)
    (a OR b) c                    grouping

See docs/matching.md for the full description. Plain Python, no Django imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.search.text import STOP_WORDS, clean, fold, initialism, is_acronym, stem

# One line for a form's help text; templates/digest/topic_syntax_help.html is the table.
CHEAT_SHEET = (
    'Words find any form: knowledge distillation. Exact phrase: "mixture of experts". '
    "Either: diffusion, score-based. Without: unlearning -survey. Prefix: distill*. "
    "Fields: title:, abstract:, author:Hinton, category:cs.CL. "
    "Similar papers: more like arXiv:2401.12345."
)
MAX_LENGTH = 500
MAX_TERMS = 40
MAX_DEPTH = 8
MIN_PREFIX = 3
FIELDS = {
    "title": "title",
    "ti": "title",
    "abstract": "abstract",
    "abs": "abstract",
    "author": "author",
    "au": "author",
    "category": "category",
    "cat": "category",
    "like": "like",
    "arxiv": "like",
}
TEXT_FIELDS = (None, "title", "abstract")
ARXIV_ID = re.compile(
    r"(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(?:v\d+)?(?![\w.])", re.IGNORECASE
)
# "more like arXiv:2401.12345" and "like:arXiv:2401.12345" both mean like:2401.12345.
_MORE_LIKE = re.compile(
    r"\b(?:more\s+like(?:\s+this)?|similar\s+to)\s*:?\s*(?=arxiv:|\d{4}\.)|(?<=like:)\s*arxiv:",
    re.IGNORECASE,
)


class TopicSyntaxError(ValueError):
    """A topic that cannot be parsed; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int, text: str = "") -> None:
        self.reason = message
        self.position = position
        where = f"at character {position + 1}"
        if text:
            snippet = text[max(0, position - 15) : position + 15]
            where += f" (near {snippet!r})"
        super().__init__(f"{message} {where}")


# Query tree. Every node is hashable so equal topics share one evaluation.


@dataclass(frozen=True)
class Concept:
    """Words that must all appear near each other in one field, in any order.

    ``units`` are tuples of stems that must be adjacent (a hyphenated or a single
    word); ``joined`` is the stem of each unit written as one word ("pretrain");
    ``shorts`` the units typed as acronyms ("LLMs": "llm"), which the papers' own
    definitions expand; ``text`` the words as typed, for matching by meaning."""

    units: tuple[tuple[str, ...], ...]
    joined: tuple[str, ...]
    field: str | None = None
    acronyms: tuple[str, ...] = ()
    shorts: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class Phrase:
    stems: tuple[str, ...]
    joined: str  # the stem of the words written as one ("pretrain" for "pre training")
    field: str | None = None


@dataclass(frozen=True)
class Prefix:
    prefix: str
    field: str | None = None


@dataclass(frozen=True)
class Author:
    words: tuple[str, ...]  # folded; all must appear in one author's name, in order
    prefix: bool = False


@dataclass(frozen=True)
class Category:
    value: str  # folded, e.g. "cs.cl"
    prefix: bool = False


@dataclass(frozen=True)
class Like:
    arxiv_id: str


@dataclass(frozen=True)
class And:
    include: tuple[Node, ...]
    exclude: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Or:
    options: tuple[Node, ...]


Node = Concept | Phrase | Prefix | Author | Category | Like | And | Or


@dataclass
class _Token:
    kind: str  # word, phrase, field, lparen, rparen, or, and, not, minus, comma
    value: str
    position: int
    wildcard: bool = False


_LEXEME = re.compile(
    r"""(?P<space>\s+)
      | (?P<field>[A-Za-z]+:)(?=\S)
      | (?P<spaced>[A-Za-z]+:)(?:\s+|$)
      | (?P<phrase>"[^"]*"?|“[^”]*”?)
      | (?P<lparen>\()
      | (?P<rparen>\))
      | (?P<comma>[,;|])
      | (?P<minus>-(?=[^\s,;|)]))
      | (?P<word>[^\s"“”(),;|]+)
    """,
    re.VERBOSE,
)


def _lex(text: str) -> list[_Token]:
    out: list[_Token] = []
    position = 0
    while position < len(text):
        match = _LEXEME.match(text, position)
        if match is None:  # a closing quote with no opening one
            raise TopicSyntaxError("This quote is never opened", position, text)
        kind = match.lastgroup
        assert kind is not None  # every alternative of _LEXEME is a named group
        value = match.group(kind)
        start, position = position, match.end()
        if kind == "space":
            continue
        if kind == "spaced":
            # "title: diffusion" is a field; "LLM: reasoning" is two words.
            kind = "field" if value[:-1].lower() in FIELDS else "word"
        elif kind == "field" and value[:-1].lower() not in FIELDS:
            raise TopicSyntaxError(
                f"Unknown field {value[:-1]!r}: use title, abstract, author, category or like",
                start,
                text,
            )
        if kind == "word" and not any(ch.isalnum() for ch in value.rstrip("*")):
            if value.startswith("-"):
                raise TopicSyntaxError("A '-' must be followed by what to exclude", start, text)
            if "*" not in value:
                continue  # stray punctuation, such as "&" or "..."
        token = _Token(kind, value, start)
        if kind == "word":
            token.wildcard = value.endswith("*")
            token.value = value.rstrip("*") if token.wildcard else value
            if "*" in token.value:
                raise TopicSyntaxError(
                    "A '*' may only end a word, as in distill*", start + value.index("*"), text
                )
            if value in ("OR", "AND", "NOT"):
                token.kind = value.lower()
        elif kind == "phrase" and (len(value) < 2 or value[-1] not in '"”'):
            raise TopicSyntaxError("This quote is never closed", start, text)
        out.append(token)
    return out


@dataclass
class _Parser:
    text: str
    items: list[_Token]
    index: int = 0
    terms: int = 0
    depth: int = 0
    scope: str | None = None  # the field of the enclosing title:( ... ) group

    def peek(self) -> _Token | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def fail(self, message: str, token: _Token | None = None) -> TopicSyntaxError:
        position = token.position if token else len(self.text)
        return TopicSyntaxError(message, position, self.text)

    def parse(self) -> Node:
        node = self.alternatives()
        token = self.peek()
        if token is not None:
            raise self.fail("This ')' has no matching '('", token)
        return node

    def alternatives(self) -> Node:
        start = self.peek()
        options = [self.all_of()]
        while (token := self.peek()) and token.kind in ("or", "comma"):
            self.index += 1
            if token.kind == "comma" and self.peek() is None:
                break  # a trailing comma, as in "diffusion, score-based,"
            after = self.peek()
            if after is None or after.kind in ("or", "comma", "rparen"):
                raise self.fail(f"Nothing after {token.value!r}: add an alternative", token)
            options.append(self.all_of())
        # An alternative of stop words only ("towards, diffusion") is dropped, not an error.
        kept = tuple(dict.fromkeys(o for o in options if o is not None))
        if not kept:
            raise self.fail("These words are too common to search for; add a specific one", start)
        return kept[0] if len(kept) == 1 else Or(kept)

    def all_of(self) -> Node | None:
        """Things that must all match, minus exclusions; None for stop words only."""
        include: list[Node] = []
        exclude: list[Node] = []
        words: list[_Token] = []
        start = self.peek()
        while (token := self.peek()) and token.kind not in ("or", "comma", "rparen"):
            if token.kind == "and":
                self.index += 1
                continue
            negated = token.kind in ("minus", "not")
            if negated:
                self.index += 1
                after = self.peek()
                if after is None or after.kind in ("or", "comma", "rparen"):
                    raise self.fail("Nothing to exclude after this", token)
                token = after
            plain = token.kind == "word" and not negated and not token.wildcard
            if plain and not ARXIV_ID.fullmatch(token.value):
                words.append(token)
                self.index += 1
                continue
            node = self.primary(None)
            (exclude if negated else include).append(node)
        if words:
            concept = self.concept(words, None)
            if concept is not None:
                include.insert(0, concept)
        if not include:
            if exclude:
                raise self.fail("A topic needs something to look for, not only exclusions", start)
            if words:
                return None
            raise self.fail("Expected a word here", self.peek() or start)
        if len(include) == 1 and not exclude:
            return include[0]
        return And(tuple(dict.fromkeys(include)), tuple(dict.fromkeys(exclude)))

    def primary(self, field_name: str | None) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail("Expected a word here")
        self.index += 1
        if token.kind == "field":
            if field_name is not None:
                raise self.fail("One field at a time: title:(...) not title:abstract:", token)
            inner = self.peek()
            if inner is None or inner.kind not in ("word", "phrase", "lparen"):
                raise self.fail(f"Say what to look for right after {token.value!r}", token)
            return self.primary(FIELDS[token.value[:-1].lower()])
        if token.kind == "lparen":
            return self.group(token, field_name)
        if token.kind == "phrase":
            return self.phrase(token, field_name)
        if token.kind == "word":
            return self.word(token, field_name)
        raise self.fail(f"Unexpected {token.value!r}", token)

    def group(self, opening: _Token, field_name: str | None) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail("Too many nested parentheses", opening)
        if field_name not in TEXT_FIELDS:
            raise self.fail(f"{field_name}: takes a name or a value, not a group", opening)
        outer, self.scope = self.scope, field_name or self.scope
        node = self.alternatives()
        self.scope = outer
        closing = self.peek()
        if closing is None or closing.kind != "rparen":
            raise self.fail("This '(' is never closed", opening)
        self.index += 1
        self.depth -= 1
        return node

    def current_field(self, field_name: str | None) -> str | None:
        return field_name if field_name is not None else self.scope

    def count(self, token: _Token, n: int = 1) -> None:
        self.terms += n
        if self.terms > MAX_TERMS:
            raise self.fail(f"A topic may hold at most {MAX_TERMS} words", token)

    def word(self, token: _Token, field_name: str | None) -> Node:
        field_name = self.current_field(field_name)
        value = token.value
        if field_name == "like" or (field_name is None and ARXIV_ID.fullmatch(value)):
            found = ARXIV_ID.fullmatch(value)
            if not found:
                raise self.fail("like: takes an arXiv id such as 2401.12345", token)
            self.count(token)
            return Like(found.group(1).lower())
        if field_name == "author":
            return self.author(token, value, token.wildcard)
        if field_name == "category":
            self.count(token)
            return Category(fold(value), prefix=token.wildcard)
        if token.wildcard:
            folded = fold(clean(value))
            if len(folded) < MIN_PREFIX or not folded.isalnum():
                raise self.fail(f"A wildcard needs at least {MIN_PREFIX} letters before '*'", token)
            self.count(token)
            return Prefix(folded, field_name)
        node = self.concept([token], field_name)
        if node is None:
            raise self.fail(f"{value!r} is too common to search for on its own", token)
        return node

    def author(self, token: _Token, value: str, prefix: bool) -> Author:
        words = tuple(name_words(value))
        if not words:
            raise self.fail("author: needs a name, as in author:Hinton", token)
        self.count(token, len(words))
        return Author(words, prefix=prefix and len(words) == 1)

    def phrase(self, token: _Token, field_name: str | None) -> Node:
        field_name = self.current_field(field_name)
        inner = token.value[1:-1]
        if field_name == "author":
            return self.author(token, inner, False)
        if field_name in ("category", "like"):
            raise self.fail(f"{field_name}: takes a single value, not a phrase", token)
        words = _surface_words(inner)
        if not words:
            raise self.fail("This phrase has no words in it", token)
        if len(words) == 1:
            node = self.concept([token], field_name)
            assert node is not None  # a quoted word is kept, even a stop word
            return node
        self.count(token, len(words))
        return Phrase(tuple(stem(w) for w in words), stem("".join(words)), field_name)

    def concept(self, tokens: list[_Token], field_name: str | None) -> Concept | None:
        field_name = self.current_field(field_name)
        units, joined, all_words, shorts, typed = [], [], [], [], []
        for token in tokens:
            value = token.value[1:-1] if token.kind == "phrase" else token.value
            parts = _surface_words(value)
            all_words += parts
            if token.kind != "phrase":  # a quoted word keeps its exact meaning
                typed.append(value)
            quoted_or_compound = token.kind == "phrase" or len(parts) > 1
            kept = parts if quoted_or_compound else [p for p in parts if p not in STOP_WORDS]
            if not kept:
                continue
            self.count(token, len(kept))
            units.append(tuple(stem(p) for p in kept))
            joined.append(stem("".join(kept)) if len(kept) > 1 else "")
            if len(kept) == 1 and is_acronym(value):
                shorts.append(units[-1][0])
        if not units:
            return None
        return Concept(
            tuple(units),
            tuple(joined),
            field_name,
            _acronyms(all_words),
            tuple(shorts),
            " ".join(typed),
        )


def _acronyms(words: list[str]) -> tuple[str, ...]:
    """What a concept of three words or more is abbreviated to: "mixture of experts" is
    "MoE", "reinforcement learning from human feedback" is "RLHF". Shorter ones (KD, CL)
    are too ambiguous to search for."""
    if len(words) < 3:
        return ()
    found = {initialism(words), initialism([w for w in words if w not in STOP_WORDS])}
    return tuple(sorted(stem(a) for a in found if len(a) >= 3))


def _surface_words(text: str) -> list[str]:
    return [fold(w) for w in re.findall(r"[^\W_]+", clean(text))]


def name_words(text: str) -> list[str]:
    return [fold(w) for w in re.findall(r"[^\W\d_]+", clean(text))]


def parse(text: str) -> Node:
    """Parse one topic; raises TopicSyntaxError saying where and why."""
    if not isinstance(text, str):
        raise TopicSyntaxError("A topic is text", 0)
    if len(text) > MAX_LENGTH:
        raise TopicSyntaxError(f"A topic is at most {MAX_LENGTH} characters", MAX_LENGTH, text)
    if "\x00" in text:
        raise TopicSyntaxError("A topic cannot hold a NUL character", text.index("\x00"), text)
    # "more like arXiv:2401.12345" is "like:2401.12345"; blank out the words, keep offsets.
    text = _MORE_LIKE.sub(lambda m: " " * len(m.group()), text)
    if not text.strip():
        raise TopicSyntaxError("The topic is empty", 0, text)
    parser = _Parser(text, _lex(text))
    return parser.parse()
