"""An in-memory index of one day's papers and the evaluation of topics against it.

Built once per set of papers; each distinct topic is then evaluated once, whatever the
number of subscribers who follow it. Plain Python, no Django imports: the benchmark and
the relevance test use it directly.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from digest.search import language as tl
from digest.search.embedding import Encoder, paper_text
from digest.search.meaning import Space
from digest.search.text import STOP_WORDS, analyse, clean, fold
from digest.search.vocabulary import Glossary
from digest.search.why import Why

# BM25F: a word in the title counts as TITLE_WEIGHT words in the abstract.
TITLE_WEIGHT = 3.0
K1 = 1.2
B = 0.75
# Words of a concept must sit within this many extra positions of each other
# ("sampled negative examples" for "negative sampling"; not two sentences apart).
SLOP = 3
# A concept's last word stands for it when at least this many, and this share, of the
# papers holding the word match the whole concept (see _add_titled).
DISTINCTIVE_MIN = 3
DISTINCTIVE_SHARE = 0.6
# "more like" takes the LIKE_LIMIT papers most similar to the given one (cosine of
# tf-idf vectors), if at least LIKE_MIN_SIMILARITY.
LIKE_MIN_SIMILARITY = 0.1
LIKE_LIMIT = 25
LIKE_WEIGHT = 10.0
FIELDS = ("title", "abstract")
# A prefix wildcard stands for at most this many words (its most common ones), so what one
# topic costs is bounded whatever it holds (docs/security.md, "Previews").
PREFIX_WORDS = 100

# Matching by meaning (docs/matching.md, "Meaning"). Closeness is a z-score over the day's
# papers (digest/search/meaning.py), below fewer papers than this it means little.
MEANING_MIN_PAPERS = 30
# The topic's meaning on the day is the centre of the SEEDS papers its words match best
# (CENTRE_SHARE of it) and what the model makes of its words (the rest).
SEEDS = 10
CENTRE_SHARE = 0.7
# The cut: a paper the words matched stays if its closeness is at least GATE (a word in
# passing is not the topic); a paper holding a share of at least PARTIAL of the topic's
# words (idf-weighted), though not together, joins at a closeness sliding from ALONE_Z
# (share 0) to FULL_Z (all the words); any paper joins at ALONE_Z.
GATE = -1.0
# A catalogue topic's broad alternatives ("tool use", "multi-agent") take papers that use
# a word in passing: a paper its words match weakly (a relevance under ABOUT_STRONG times
# the best of the day for the topic) stays only if its closeness to the topic's
# description is at least ABOUT_GATE; one its words match strongly (in the title, or
# again and again) stays.
ABOUT_GATE = 1.0
ABOUT_STRONG = 0.2
PARTIAL = 0.5
FULL_Z = 1.5
ALONE_Z = 3.0
# Relevance added per unit of closeness, so ranking blends words and meaning.
MEANING_WEIGHT = 1.0
# Words in at least this share of the day's papers are filler of the field ("model",
# "learning", "data"): never highlighted. A small day cannot tell, so these are too.
FILLER_SHARE = 0.2
FILLER = frozenset(
    {
        *("model", "learn", "data", "method", "approach", "result", "propos", "paper"),
        *("task", "perform", "show", "use", "base", "new", "improv", "present", "work"),
        *("studi", "framework", "system", "network"),
    }
)


@dataclass(frozen=True, slots=True)
class Doc:
    """What matching needs of a paper."""

    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    upvotes: int = 0
    arxiv_id: str = ""


# A topic's result: for each matching paper (its position in the index), its relevance.
Hits = dict[int, float]
Positions = dict[int, list[int]]
Counts = dict[int, int]


class PaperIndex:
    """``vectors`` are the papers' stored embeddings (None where a paper has none yet: the
    ``encoder`` makes it); without an encoder the index matches by words alone."""

    def __init__(
        self,
        docs: Sequence[Doc],
        *,
        encoder: Encoder | None = None,
        vectors: Sequence[np.ndarray | None] | None = None,
    ) -> None:
        self.docs = list(docs)
        self.size = len(self.docs)
        self.glossary = Glossary()
        self.postings: dict[str, dict[str, Positions]] = {f: defaultdict(dict) for f in FIELDS}
        self.lengths: dict[str, list[int]] = {f: [] for f in FIELDS}
        self.surfaces: list[dict[str, list[str]]] = []
        self.acronym_docs: dict[str, set[int]] = defaultdict(set)
        self.authors: list[list[tuple[str, ...]]] = []
        self.author_docs: dict[str, set[int]] = defaultdict(set)
        self.categories: list[set[str]] = []
        self.stem_of: dict[str, str] = {}
        self._vectors: list[dict[str, float]] | None = None
        self._outside: dict[tuple[str, str], dict[str, float]] = {}
        for number, doc in enumerate(self.docs):
            self._add(number, doc)
        self.glossary.finish()
        self.vocabulary = sorted(self.stem_of)
        self.average = {
            f: (sum(self.lengths[f]) / self.size if self.size else 1.0) or 1.0 for f in FIELDS
        }
        self.postings = {f: dict(p) for f, p in self.postings.items()}
        title, abstract = self.postings["title"], self.postings["abstract"]
        # BM25F's per-paper factor for a word in each field: its weight over the
        # length normalisation 1 - B + B * length / average length.
        self.factor = {
            name: [
                (TITLE_WEIGHT if name == "title" else 1.0)
                / (1 - B + B * length / self.average[name])
                for length in self.lengths[name]
            ]
            for name in FIELDS
        }
        self._count_cache: dict[tuple, Counts] = {}
        self.df = {
            stem: len(title.get(stem, {}).keys() | abstract.get(stem, {}).keys())
            for stem in title.keys() | abstract.keys()
        }
        self.space = self._space(encoder, vectors)
        # Per concept evaluated by meaning, the papers that only meaning found.
        self._by_meaning: dict[Hashable, frozenset[int]] = {}
        self._meant_cache: dict[Hashable, Hits] = {}

    def _space(
        self, encoder: Encoder | None, vectors: Sequence[np.ndarray | None] | None
    ) -> Space | None:
        if encoder is None or self.size < MEANING_MIN_PAPERS:
            return None
        given = list(vectors) if vectors is not None else [None] * self.size
        fits = [v is not None and v.shape == (encoder.dimensions,) for v in given]
        missing = [n for n, ok in enumerate(fits) if not ok]
        made = encoder.encode(
            [paper_text(self.docs[n].title, self.docs[n].abstract) for n in missing]
        )
        matrix = np.zeros((self.size, encoder.dimensions), dtype=np.float32)
        for n, ok in enumerate(fits):
            if ok:
                matrix[n] = given[n]
        if missing:
            matrix[missing] = made
        return Space(encoder, matrix)

    def _add(self, number: int, doc: Doc) -> None:
        self.glossary.add(doc.abstract)
        surfaces: dict[str, list[str]] = {}
        for name in FIELDS:
            analysis = analyse(clean(doc.title if name == "title" else doc.abstract))
            postings = self.postings[name]
            for stem, position, surface in analysis.tokens:
                postings[stem].setdefault(number, []).append(position)
                forms = surfaces.setdefault(stem, [])
                if surface not in forms:
                    forms.append(surface)
                    self.stem_of[surface] = stem
            self.lengths[name].append(len(analysis.tokens))
            for acronym in analysis.acronyms:
                self.acronym_docs[acronym].add(number)
        self.surfaces.append(surfaces)
        names = [tuple(tl.name_words(a)) for a in doc.authors]
        self.authors.append(names)
        for word in {w for name in names for w in name}:
            self.author_docs[word].add(number)
        self.categories.append({fold(c) for c in doc.categories})

    # Evaluation ---------------------------------------------------------------

    def topic(
        self, node: tl.Node, like: dict[str, Doc | None] | None = None, about: str = ""
    ) -> Hits:
        """The papers a topic matches, with their relevance: ``evaluate``, then, for a
        topic described in ``about`` (a catalogue topic's name and description), the cut
        by meaning applied to all it matched, and the papers close enough in meaning."""
        hits = self.evaluate(node, like)
        if not about or self.space is None:
            return hits
        key = ("about", node, about)
        found = self._meant_cache.get(key)
        if found is None:
            closeness = self._centred(self.space.closeness(about), hits)
            strong = ABOUT_STRONG * max(hits.values(), default=0.0)
            found, added = self._blend(hits, closeness, None, gate=ABOUT_GATE, strong=strong)
            self._remember(key, found)
            self._by_meaning[key] = added
        return found

    def evaluate(
        self, node: tl.Node, like: dict[str, Doc | None] | None = None, *, meaning: bool = True
    ) -> Hits:
        """The papers a parsed topic matches, with their relevance (BM25F-like, blended
        with closeness in meaning for plain words unless ``meaning`` is false)."""
        if isinstance(node, tl.Concept):
            if meaning and node.text and node.field is None and self.space is not None:
                return self._meant(node)
            return self._scored(self._concept(node))
        if isinstance(node, tl.Phrase):
            return self._scored(
                {f: self._counts(node.stems, node.joined, f) for f in _fields(node.field)}
            )
        if isinstance(node, tl.Prefix):
            return self._prefix(node)
        if isinstance(node, tl.Author):
            return self._constant(self._author_docs(node))
        if isinstance(node, tl.Category):
            return self._constant(self._category_docs(node))
        if isinstance(node, tl.Like):
            return self._like((like or {}).get(node.arxiv_id), node.arxiv_id)
        if isinstance(node, tl.And):
            return self._and(node, like, meaning)
        return self._or(node, like, meaning)

    def _and(self, node: tl.And, like: dict[str, Doc | None] | None, meaning: bool) -> Hits:
        parts = sorted(
            (self.evaluate(child, like, meaning=meaning) for child in node.include), key=len
        )
        hits = parts[0]
        for part in parts[1:]:
            hits = {doc: score + part[doc] for doc, score in hits.items() if doc in part}
        if hits and node.exclude:
            hits = dict(hits)  # the part may be a cached result
            for child in node.exclude:
                # An exclusion keeps its exact meaning: "-survey" drops the papers that
                # say "survey", not those about something like a survey.
                for doc in self.evaluate(child, like, meaning=False):
                    hits.pop(doc, None)
        return hits

    def _or(self, node: tl.Or, like: dict[str, Doc | None] | None, meaning: bool) -> Hits:
        hits: Hits = {}
        get = hits.get
        for child in node.options:
            for doc, score in self.evaluate(child, like, meaning=meaning).items():
                hits[doc] = get(doc, 0.0) + score
        return hits

    def _scored(self, counts: dict[str, Counts]) -> Hits:
        title, abstract = counts.get("title", {}), counts.get("abstract", {})
        docs = title.keys() | abstract.keys()
        if not docs:
            return {}
        df = len(docs)
        idf = math.log(1 + (self.size - df + 0.5) / (df + 0.5)) * (K1 + 1)
        in_title, in_abstract = self.factor["title"], self.factor["abstract"]
        title_get, abstract_get = title.get, abstract.get
        hits: Hits = {}
        for doc in docs:
            weighted = title_get(doc, 0) * in_title[doc] + abstract_get(doc, 0) * in_abstract[doc]
            hits[doc] = idf * weighted / (K1 + weighted)
        return hits

    def _constant(self, docs: list[int]) -> Hits:
        idf = math.log(1 + (self.size - len(docs) + 0.5) / (len(docs) + 0.5)) if docs else 0.0
        return dict.fromkeys(docs, idf)

    def _concept(self, node: tl.Concept) -> dict[str, Counts]:
        counts: dict[str, Counts] = {}
        for name in _fields(node.field):
            units = zip(node.units, node.joined, strict=True)
            if len(node.units) == 1:
                found = self._counts(node.units[0], node.joined[0], name)
                long = self._long_form(node, node.units[0])
                if long:  # added to below; the cached counts stay as they are
                    found = dict(found)
                    for doc, n in self._counts(long, "", name).items():
                        found[doc] = found.get(doc, 0) + n
                elif node.acronyms:
                    found = dict(found)
            else:
                runs = [self._unit_positions(node, unit, joined, name) for unit, joined in units]
                found = {}
                longest = [max(len(u), len(self._long_form(node, u))) for u in node.units]
                span = sum(longest) - 1 + SLOP
                for doc in set.intersection(*(set(run) for run in runs)):
                    near = _near(_positions_of(runs, doc), span)
                    if near:
                        found[doc] = near
            for acronym in (*node.acronyms, *self._learned_acronym(node)):
                written = self.acronym_docs.get(acronym, ())
                for doc, positions in self.postings[name].get(acronym, {}).items():
                    if doc in written:
                        found[doc] = found.get(doc, 0) + len(positions)
            counts[name] = found
        if len(node.units) > 1 and node.field != "abstract":
            self._add_titled(node, counts)
        return counts

    def _long_form(self, node: tl.Concept, unit: tuple[str, ...]) -> tuple[str, ...]:
        """The stems of what a unit typed as an acronym stands for in these papers."""
        if len(unit) == 1 and unit[0] in node.shorts:
            found = self.glossary.expansions.get(unit[0])
            if found is not None:
                return found.stems
        return ()

    def _learned_acronym(self, node: tl.Concept) -> tuple[str, ...]:
        """The acronym the papers define for the whole concept ("knowledge distillation
        (KD)"), which they then write alone."""
        found = self.glossary.acronyms.get(_flat_tuple(node.units))
        return (found,) if found and found not in node.acronyms else ()

    def _unit_positions(
        self, node: tl.Concept, unit: tuple[str, ...], joined: str, name: str
    ) -> Positions:
        positions = self._positions(unit, joined, name)
        long = self._long_form(node, unit)
        if not long:
            return positions
        merged = {doc: list(p) for doc, p in positions.items()}
        for doc, starts in self._positions(long, "", name).items():
            merged[doc] = sorted({*merged.get(doc, ()), *starts})
        return merged

    # Meaning --------------------------------------------------------------------

    def _meant(self, node: tl.Concept) -> Hits:
        """A plain-word concept by words and by meaning (see the constants above)."""
        found = self._meant_cache.get(node)
        if found is None:
            words, closeness, partial = self.evidence(node)
            found, added = self._blend(words, closeness, partial)
            self._remember(node, found)
            self._by_meaning[node] = added
        return found

    def evidence(self, node: tl.Concept) -> tuple[Hits, np.ndarray, np.ndarray]:
        """What a plain-word concept is matched on, before the cut: the papers its words
        find, with their relevance; every paper's closeness in meaning (a z-score); the
        share of its words each paper holds apart (``_coverage``)."""
        assert self.space is not None  # evaluate checked
        closeness = self.space.closeness(self.glossary.expand(node.text.split()))
        words = self._scored(self._concept(node))
        partial = self._coverage(node)
        # No paper holds the words together: those holding them all, apart, are the
        # best guess at what the topic means today.
        seeds = words or {d: float(closeness[d]) for d in np.flatnonzero(partial >= 0.999).tolist()}
        return words, self._centred(closeness, seeds), partial

    def _centred(self, closeness: np.ndarray, seeds: dict[int, float]) -> np.ndarray:
        """Closeness measured partly (CENTRE_SHARE) to the centre of the best ``seeds``:
        the papers a topic's words found best show what it means on this day."""
        best = heapq.nlargest(SEEDS, seeds, key=seeds.__getitem__)
        if not best or not CENTRE_SHARE:
            return closeness
        assert self.space is not None  # callers checked
        return CENTRE_SHARE * self.space.likeness(best) + (1 - CENTRE_SHARE) * closeness

    def _blend(
        self,
        words: Hits,
        closeness: np.ndarray,
        partial: np.ndarray | None,
        gate: float = GATE,
        strong: float = math.inf,
    ) -> tuple[Hits, frozenset[int]]:
        """The cut: ``words`` (the papers the words found) kept if close enough in
        meaning or found with a relevance of at least ``strong``, with the papers
        ``partial`` (share of the words per paper) or meaning alone add."""
        hits: Hits = {}
        for doc, relevance in words.items():
            near = float(closeness[doc])
            if near >= gate or relevance >= strong:
                hits[doc] = relevance + MEANING_WEIGHT * max(near, 0.0)
        added = set()
        if partial is not None:
            # One comparison over the day's papers: a Python loop over every paper holding
            # one of the words was a fifth of what a topic costs.
            bar = ALONE_Z + partial * (FULL_Z - ALONE_Z)
            for doc in np.flatnonzero((partial >= PARTIAL) & (closeness >= bar)).tolist():
                if doc not in hits:
                    hits[doc] = MEANING_WEIGHT * float(closeness[doc])
                    added.add(doc)
        for doc in np.flatnonzero(closeness >= ALONE_Z).tolist():
            if doc not in hits:
                hits[doc] = MEANING_WEIGHT * float(closeness[doc])
                added.add(doc)
        return hits, frozenset(added)

    def _coverage(self, node: tl.Concept) -> np.ndarray:
        """Per paper, the share of the concept's words it holds anywhere (idf-weighted):
        "privacy attacks on federated training" need not hold all four words together.
        Zero everywhere for a one-word concept."""
        shares = np.zeros(self.size)
        if len(node.units) < 2:
            return shares
        total = 0.0
        for unit, joined in zip(node.units, node.joined, strict=True):
            docs: set[int] = set()
            for name in FIELDS:
                docs.update(self._unit_positions(node, unit, joined, name))
            weight = math.log(1 + (self.size - len(docs) + 0.5) / (len(docs) + 0.5))
            total += weight
            if docs:
                shares[list(docs)] += weight
        return shares / total if total else shares

    def _remember(self, key, hits: Hits) -> None:
        # Bounded like the ranked results (docs/scaling.md); the small sets of papers
        # found by meaning stay, as a ranked result still cached may need them to explain.
        if len(self._meant_cache) >= 20_000:
            self._meant_cache.clear()
        self._meant_cache[key] = hits

    def _add_titled(self, node: tl.Concept, counts: dict[str, Counts]) -> None:
        """Also match papers whose title holds the concept's last word (the head of an
        English noun phrase) without its other words, when among these papers that word
        mostly stands for the whole concept: "Intrinsic Evaluation of Unlearning" is about
        machine unlearning. A title holding the other words too, but apart, is about
        something else ("Knowledge Distillation via ... Relationship Graph")."""
        head = node.units[-1]
        if len(head) > 1:
            return
        title, abstract = self.postings["title"], self.postings["abstract"]
        strong = set().union(*(found.keys() for found in counts.values()))
        having = title.get(head[0], {}).keys() | abstract.get(head[0], {}).keys()
        together = len(strong & having)
        if together < DISTINCTIVE_MIN or together < DISTINCTIVE_SHARE * len(having):
            return
        others = [stem for unit in node.units[:-1] for stem in unit]
        for doc, positions in title.get(head[0], {}).items():
            if doc not in strong and not any(doc in title.get(o, ()) for o in others):
                counts["title"][doc] = len(positions)
                if "abstract" in counts and doc in abstract.get(head[0], ()):
                    counts["abstract"][doc] = len(abstract[head[0]][doc])

    def _counts(self, stems: tuple[str, ...], joined: str, name: str) -> Counts:
        """How often the stems occur one after the other, per paper (remembered: topics
        share words)."""
        key = (stems, joined, name)
        found = self._count_cache.get(key)
        if found is None:
            positions = self._positions(stems, joined, name)
            found = self._count_cache[key] = {doc: len(p) for doc, p in positions.items()}
        return found

    def _positions(self, stems: tuple[str, ...], joined: str, name: str) -> Positions:
        """Where the stems occur one after the other (or written as one word)."""
        postings = self.postings[name]
        first = postings.get(stems[0], {})
        if len(stems) == 1:
            return first
        rest = [postings.get(s, {}) for s in stems[1:]]
        out: Positions = {}
        for doc in first.keys() & set.intersection(*(set(r) for r in rest)):
            sets = [set(r[doc]) for r in rest]
            found = [p for p in first[doc] if all(p + i + 1 in s for i, s in enumerate(sets))]
            if found:
                out[doc] = found
        for doc, starts in postings.get(joined, {}).items() if joined else ():
            out[doc] = sorted({*out.get(doc, ()), *starts})
        return out

    def _prefix(self, node: tl.Prefix) -> Hits:
        start = bisect.bisect_left(self.vocabulary, node.prefix)
        stems = set()
        for word in self.vocabulary[start:]:
            if not word.startswith(node.prefix):
                break
            stems.add(self.stem_of[word])
        if len(stems) > PREFIX_WORDS:
            # "con*" stands for hundreds of words; its most common ones bound the work.
            stems = set(heapq.nlargest(PREFIX_WORDS, sorted(stems), key=self.df.__getitem__))
        counts = {}
        for name in _fields(node.field):
            found: Counts = {}
            for stem in stems:
                for doc, positions in self.postings[name].get(stem, {}).items():
                    found[doc] = found.get(doc, 0) + len(positions)
            counts[name] = found
        return self._scored(counts)

    def _author_docs(self, node: tl.Author) -> list[int]:
        want, n = node.words, len(node.words)
        if node.prefix and n == 1:
            return sorted(
                {
                    d
                    for word, docs in self.author_docs.items()
                    if word.startswith(want[0])
                    for d in docs
                }
            )
        candidates = set.intersection(*(self.author_docs.get(w, set()) for w in want))
        return sorted(
            doc
            for doc in candidates
            if any(
                name[i : i + n] == want
                for name in self.authors[doc]
                for i in range(len(name) - n + 1)
            )
        )

    def _category_docs(self, node: tl.Category) -> list[int]:
        if node.prefix:
            return [
                d
                for d, cats in enumerate(self.categories)
                if any(c.startswith(node.value) for c in cats)
            ]
        return [d for d, cats in enumerate(self.categories) if node.value in cats]

    # Similarity ---------------------------------------------------------------

    def vectors(self) -> list[dict[str, float]]:
        """Unit-length tf-idf vectors of the papers (title words count thrice)."""
        if self._vectors is None:
            counts: list[defaultdict[str, float]] = [defaultdict(float) for _ in range(self.size)]
            for name in FIELDS:
                weight = TITLE_WEIGHT if name == "title" else 1.0
                for stem, docs in self.postings[name].items():
                    for doc, positions in docs.items():
                        counts[doc][stem] += weight * len(positions)
            self._vectors = [self.vector(c) for c in counts]
        return self._vectors

    def vector(self, counts: Mapping[str, float]) -> dict[str, float]:
        weights = {}
        for stem, tf in counts.items():
            df = self.df.get(stem, 0)
            # Stop words and words in half the papers say nothing about a paper.
            if df and df < self.size * 0.5 and stem not in STOP_WORDS:
                weights[stem] = (1 + math.log(tf)) * math.log(self.size / df)
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {stem: w / norm for stem, w in weights.items()}

    def vector_of(self, doc: Doc) -> dict[str, float]:
        """The vector of a paper that may not be in the index (a liked or a "like" one);
        remembered, as many subscribers like the same papers."""
        key = (doc.title, doc.abstract)
        vector = self._outside.get(key)
        if vector is None:
            counts: defaultdict[str, float] = defaultdict(float)
            for text, weight in ((doc.title, TITLE_WEIGHT), (doc.abstract, 1.0)):
                for stem, _, _ in analyse(clean(text)).tokens:
                    counts[stem] += weight
            if len(self._outside) >= 50_000:
                self._outside.clear()
            vector = self._outside[key] = self.vector(counts)
        return vector

    def _like(self, target: Doc | None, arxiv_id: str) -> Hits:
        if target is None:
            return {}
        probe = self.vector_of(target)
        hits: Hits = {}
        for doc, vector in enumerate(self.vectors()):
            if self.docs[doc].arxiv_id != arxiv_id:
                similarity = cosine(probe, vector)
                if similarity >= LIKE_MIN_SIMILARITY:
                    hits[doc] = LIKE_WEIGHT * similarity
        best = sorted(hits, key=lambda doc: -hits[doc])[:LIKE_LIMIT]
        return {doc: hits[doc] for doc in best}

    # Explanation --------------------------------------------------------------

    def explain(
        self, node: tl.Node, doc: int, like: dict[str, Doc | None] | None = None, about: str = ""
    ) -> Why:
        """Why paper ``doc`` matched the topic: its words, or, for a paper found by
        meaning, also the sentence of its abstract closest to the topic."""
        terms = self.terms(node, doc, like)
        if not self._by_meaning_only(node, doc, about):
            return Why("words", terms)
        text = about or self._meaning_text(node)
        assert self.space is not None  # found by meaning
        return Why("meaning", terms, self.space.closest_sentence(text, self.docs[doc].abstract))

    def prepare(self, topics: Sequence[tuple[tl.Node, str]]) -> None:
        """Embed the meaning of many (topic, about) pairs in one call, before evaluating."""
        if self.space is None:
            return
        texts = []
        for node, about in topics:
            if about:
                texts.append(about)
            texts += [self.glossary.expand(c.text.split()) for c in _concepts(node) if c.text]
        self.space.prepare(texts)

    def _by_meaning_only(self, node: tl.Node, doc: int, about: str) -> bool:
        if self.space is None:
            return False
        if about:
            return doc in self._by_meaning.get(("about", node, about), ())
        return any(doc in self._by_meaning.get(c, ()) for c in _concepts(node))

    def _meaning_text(self, node: tl.Node) -> str:
        return ", ".join(self.glossary.expand(c.text.split()) for c in _concepts(node) if c.text)

    def terms(
        self, node: tl.Node, doc: int, like: dict[str, Doc | None] | None = None, limit: int = 6
    ) -> tuple[str, ...]:
        """The words of paper ``doc`` that the topic looked for, as written there (folded),
        in the topic's order: what the email highlights and its "why" quotes.

        Never a stop word: a phrase ("mixture of experts") matches them in place, but a
        highlighted "of" all over the abstract would say nothing. Nor a filler word of
        the field ("model", "learning"), for the same reason."""
        words = (w for w in self._terms(node, doc, like or {}) if not self.is_filler(w))
        return tuple(dict.fromkeys(words))[:limit]

    def is_filler(self, surface: str) -> bool:
        stem = self.stem_of.get(surface, surface)
        if surface in STOP_WORDS or stem in FILLER:
            return True
        return self.size >= MEANING_MIN_PAPERS and self.df.get(stem, 0) >= FILLER_SHARE * self.size

    def _terms(self, node: tl.Node, doc: int, like: dict[str, Doc | None]) -> list[str]:
        surfaces = self.surfaces[doc]
        if isinstance(node, tl.Concept | tl.Phrase):
            if isinstance(node, tl.Concept):
                stems = _flat(node.units) + list(node.acronyms)
                stems += [s for unit in node.units for s in self._long_form(node, unit)]
            else:
                stems = list(node.stems)
            return [form for stem in stems for form in surfaces.get(stem, ())[:2]]
        if isinstance(node, tl.Prefix):
            return [f for forms in surfaces.values() for f in forms if f.startswith(node.prefix)]
        if isinstance(node, tl.Author | tl.Category):
            return []  # not words of the title or abstract, so nothing to highlight
        if isinstance(node, tl.Like):
            target = like.get(node.arxiv_id)
            if target is None:
                return []
            probe, vector = self.vector_of(target), self.vectors()[doc]
            shared = sorted(probe.keys() & vector.keys(), key=lambda s: -probe[s] * vector[s])
            return [surfaces[stem][0] for stem in shared[:4] if stem in surfaces]
        children = node.include if isinstance(node, tl.And) else node.options
        return [word for child in children for word in self._terms(child, doc, like)]


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(stem, 0.0) for stem, w in a.items())


def _fields(field: str | None) -> tuple[str, ...]:
    return (field,) if field in FIELDS else FIELDS


def _flat(units: tuple[tuple[str, ...], ...]) -> list[str]:
    return [stem for unit in units for stem in unit]


def _concepts(node: tl.Node) -> list[tl.Concept]:
    """The plain-word concepts of a topic that meaning applies to (not the excluded)."""
    if isinstance(node, tl.Concept):
        return [node]
    children = node.include if isinstance(node, tl.And) else getattr(node, "options", ())
    return [c for child in children for c in _concepts(child)]


def _flat_tuple(units: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    return tuple(_flat(units))


def _positions_of(runs: list[Positions], doc: int) -> list[tuple[int, int]]:
    return sorted((p, unit) for unit, run in enumerate(runs) for p in run[doc])


def _near(merged: list[tuple[int, int]], span: int) -> int:
    """How many separate places hold every unit within ``span`` positions."""
    units = max(u for _, u in merged) + 1
    last: dict[int, int] = {}
    count = 0
    for position, unit in merged:
        last[unit] = position
        if len(last) == units and position - min(last.values()) <= span:
            count += 1
            last = {}
    return count
