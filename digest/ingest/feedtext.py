"""Feed text made fit to store and to show: every field a feed gave us is untrusted.

``plain()`` is the one cleaner of feed text. Ingest stores what it returns (so titles,
abstracts and author names are plain text in the database), and the email and the pages
apply it again to whatever they show, before the templates escape it. ``highlight()``
finds the matched terms and hands the template plain pieces to escape, so no feed
character reaches the HTML unescaped. ``safe_url()`` lets only http(s) links through.
Plain Python, no Django imports.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlencode, urlsplit

from digest.search.text import fold

# Elements whose content is code or invisible, dropped with what they hold. An element
# left unclosed runs to the end of the text: it is dropped to the end too.
_DROP_ELEMENTS = re.compile(
    r"<(script|style|iframe|object|embed|noscript|template|svg|math|xmp|plaintext)\b.*?"
    r"(?:</\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)|<!\[CDATA\[.*?(?:\]\]>|\Z)|<![a-z][^>]*>", re.I | re.S)
# Tags of real HTML elements, with anything inside them; other names ("<foo>", "<x-y a=1>")
# only bare or with an attribute, so that TeX such as "$0<x<1$" is not taken for a tag.
_TAG = re.compile(
    r"</?(?:a|abbr|b|base|bdi|bdo|big|blockquote|body|br|button|caption|center|cite|code|col|"
    r"dd|del|details|dfn|div|dl|dt|em|font|form|frame|frameset|h[1-6]|head|header|hr|html|i|"
    r"img|input|ins|kbd|label|li|link|main|mark|marquee|meta|nav|ol|option|p|param|pre|q|s|"
    r"samp|section|select|small|source|span|strike|strong|sub|summary|sup|table|tbody|td|"
    r"textarea|tfoot|th|thead|title|tr|tt|u|ul|var|video|audio|wbr|applet|"
    r"script|style|iframe|object|embed|noscript|template|svg|math|xmp|plaintext)"
    r"(?=[\s/>])[^>]*(?:>|\Z)"
    r"|</?[a-z][\w:.-]*(?:\s*/?>|[\s/][^<>]*=[^<>]*>)",
    re.IGNORECASE,
)
# Control characters (C0 but tab and line breaks, DEL, C1), lone surrogates, and the
# invisible characters that reorder or hide text (bidi embeddings, overrides, isolates and
# marks, zero-width space, byte order mark): "moc.elgoog" shown as "google.com".
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
    "\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
# Characters that have no business in a link and could end an HTML attribute.
_URL_BREAKERS = re.compile(r"[\"'<>`\\]")
_ROUNDS = 5


def plain(value: object, *, limit: int | None = None) -> str:
    """Feed text as one line of plain text: no elements, no tags, no entities, no control
    or bidi characters, spaces collapsed.

    Escaped markup ("&lt;script&gt;", or escaped twice) is decoded and removed like
    markup; dropping runs until nothing changes, so "<scr<script></script>ipt>" cannot
    reassemble into an element. TeX ("$0<x<1$") is kept.
    """
    text = _INVISIBLE.sub("", "" if value is None else str(value))
    for _ in range(_ROUNDS if "<" in text or "&" in text else 0):
        before = text
        text = _drop_elements(text)
        text = _INVISIBLE.sub("", html.unescape(_TAG.sub(" ", text)))
        if text == before:
            break
    else:
        if "<" in text:  # still changing after every round: what is left of markup goes
            text = _TAG.sub(" ", _drop_elements(text)).replace("<", " ")
    text = " ".join(text.split())
    if limit is not None:
        text = excerpt(text, limit)
    return text


def _drop_elements(text: str) -> str:
    """``text`` without script-like elements, comments and declarations, dropped until
    nothing changes so that a split element cannot reassemble."""
    for _ in range(_ROUNDS):
        dropped = _DROP_ELEMENTS.sub("", _COMMENT.sub("", text))
        if dropped == text:
            break
        text = dropped
    return text


def excerpt(text: str, limit: int = 300) -> str:
    """The start of ``text``, at most about ``limit`` characters, cut at a word, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    space = cut.rfind(" ")
    # A single 300-character "word" (a URL, a hostile string) is cut where it is.
    cut = cut[:space] if space > limit // 2 else cut[:limit]
    return cut.rstrip(" ,;:.-\u2013\u2014(") + "…"


def highlight(text: str, terms: Iterable[str]) -> list[tuple[str, bool]]:
    """``text`` cut into pieces, True for each whole-word occurrence of a term.

    Terms match in any case and with or without accents (matching gives them folded,
    "scholkopf" for "Schölkopf"). The pieces stay plain text for the template engine
    to escape, so a highlight never lets feed markup through, and a term such as "amp"
    never lands inside an entity.
    """
    pattern = _terms_pattern(tuple(terms))
    if pattern is None or not text:
        return [(text, False)] if text else []
    folded, origin = _folded(text)
    pieces: list[tuple[str, bool]] = []
    position = 0
    for found in pattern.finditer(folded):
        start, end = found.span()
        if origin is not None:
            start, end = origin[start], origin[end - 1] + 1
        if start < position:
            continue
        gap = text[position:start]
        if pieces and pieces[-1][1] and not gap.strip():
            # "Video Generation" reads as one highlight, not two.
            pieces[-1] = (pieces[-1][0] + gap + text[start:end], True)
        else:
            if gap:
                pieces.append((gap, False))
            pieces.append((text[start:end], True))
        position = end
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


@functools.lru_cache(maxsize=1024)
def _terms_pattern(terms: tuple[str, ...]) -> re.Pattern | None:
    # Longest first, so "language models" wins over "language".
    words = sorted({fold(term.strip()) for term in terms if term and term.strip()}, key=len)
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in reversed(words))
    return re.compile(rf"(?<!\w)({alternatives})(?!\w)")


class _FoldTable(dict):
    """``str.translate`` table folding one character at a time, filled as characters come.

    A character folding to no letter or digit ("…" gives "...", a lone combining accent
    gives "") becomes one space: it never matches a term, and positions stay put."""

    def __missing__(self, codepoint: int) -> str:
        piece = fold(chr(codepoint))
        if len(piece) != 1 and not any(char.isalnum() for char in piece):
            piece = " "
        self[codepoint] = piece
        return piece


_FOLD = _FoldTable()


def _folded(text: str) -> tuple[str, list[int] | None]:
    """``fold(text)`` and, for each of its characters, the index it came from in ``text``
    (None when each character gave exactly one, the usual case)."""
    folded = text.translate(_FOLD)
    if len(folded) == len(text):
        return folded, None
    # A character folded to several letters ("ß" to "ss"): map each back to it.
    pieces = [_FOLD[ord(char)] for char in text]
    return folded, [index for index, piece in enumerate(pieces) for _ in piece]


def wrap(text: str, width: int = 72) -> str:
    """Lines of at most ``width`` characters, broken at spaces (a longer word stands alone).

    For the plain-text part; a greedy loop, several times faster than ``textwrap``."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return "\n".join(lines)


def shorten_authors(authors: Sequence[object], *, shown: int = 3) -> str:
    """ "A, B and C"; past ``shown + 1`` names, "A, B, C, … and 12 others"."""
    if len(authors) > shown + 1:
        # Only the names shown are cleaned: a collaboration lists hundreds.
        names = [name for name in map(_author_name, authors[:shown]) if name]
        others = len(authors) - len(names)
        return f"{', '.join(names)}, … and {others} others" if names else f"{others} authors"
    return join_words([name for name in map(_author_name, authors) if name])


def join_words(words: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _author_name(author: object) -> str:
    # Feeds give names as strings; the Hugging Face API as {"name": ...} objects.
    name = author.get("name", "") if isinstance(author, dict) else author
    return plain(name, limit=80)


def safe_url(url: object) -> str:
    """``url`` when it is an absolute http(s) link without quotes, angle brackets or
    spaces, else "" (javascript:, data:, relative, or made to break out of an attribute)."""
    text = str(url or "").strip()
    if not text or _SPACE_OR_CONTROL.search(text) or _URL_BREAKERS.search(text):
        return ""
    if _INVISIBLE.search(text):
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return ""
    return text


# A sentence ends at ".", "!" or "?" before a space and a capital, a digit or an opening
# bracket; one shorter than this ("Fig. 1 shows") runs on to the next end.
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z0-9(\[\"'])")
MIN_SENTENCE = 40


def first_sentence(text: str) -> tuple[str, str]:
    """(the first sentence of plain ``text``, the rest of it)."""
    for end in _SENTENCE_END.finditer(text):
        if end.end() >= MIN_SENTENCE:
            return text[: end.end()], text[end.end() :].strip()
    return text, ""


def lead_and_rest(summary: str, abstract: str, limit: int = 300) -> tuple[str, str]:
    """A paper's first line, at most about ``limit`` characters (the source's one-sentence
    summary, else the abstract's first sentence), and the abstract still worth showing
    after it (all of it after a summary; after the first sentence otherwise)."""
    summary, abstract = plain(summary), plain(abstract)
    if summary:
        return excerpt(summary, limit), abstract
    first, rest = first_sentence(abstract)
    return excerpt(first, limit), rest


# Hosts of code, not papers: a link there is a paper's code link, never its page.
CODE_HOSTS = frozenset({"github.com", "www.github.com", "gitlab.com", "bitbucket.org"})


def is_code_url(url: str) -> bool:
    try:
        return (urlsplit(url).hostname or "") in CODE_HOSTS
    except ValueError:
        return False


def paper_url(arxiv_id: str, abs_url: str, title: str, *other_links: str) -> str:
    """The link to the paper itself: its arXiv abstract page when the id is known, else
    its own page when it has one (not a code repository, nor one of ``other_links``, its
    code and project pages), else a search for its title on arXiv."""
    if arxiv_id:
        return f"https://arxiv.org/abs/{arxiv_id}"
    own = safe_url(abs_url)
    if own and own not in other_links and not is_code_url(own):
        return own
    title = plain(title, limit=200)
    if not title:
        return ""
    return f"https://arxiv.org/search/?{urlencode({'query': title, 'searchtype': 'title'})}"
