"""Matching papers to topics and subscribers: the thin database layer over the pure
engine (``topic_language`` parses, ``paper_index`` evaluates, ``ranking`` scores and cuts).

The index of a set of papers is built once per process and reused while the papers are
unchanged, so a worker sending many chunks of one day's digests builds it once and
evaluates each distinct topic once. See docs/matching.md.
"""

from __future__ import annotations

import datetime
import gc
import heapq
import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from digest.models import Digest, DigestItem, Feedback, Paper, PaperQuerySet, Topic
from digest.search import embedding, ranking, taste
from digest.search import language as tl
from digest.search.index import Doc, PaperIndex
from digest.search.language import TopicSyntaxError
from digest.search.why import Why, describe

if TYPE_CHECKING:
    from accounts.models import Subscriber

__all__ = [
    "Match",
    "Preview",
    "TopicSyntaxError",
    "check_topic",
    "embed_papers",
    "encoder",
    "fill_embeddings",
    "indexed_papers",
    "match_topic",
    "preview_topics",
    "select_for_subscribers",
]

log = logging.getLogger(__name__)

# See _sent: papers first seen within this many days are looked for in recent digests only.
RECENT_DAYS = 8


@dataclass(frozen=True)
class Match:
    paper: Paper
    score: float
    topic: str  # the catalogue topic's name, or the text the subscriber typed
    terms: tuple[str, ...]  # words as written in the paper, to highlight
    kind: str = "words"  # words, meaning or feedback: see digest.search.why.Why
    sentence: str = ""  # the abstract's sentence closest to the topic (kind "meaning")

    @property
    def why(self) -> str:
        """'knowledge distillation: "distillation", "teacher"'"""
        return describe(self.topic, self.kind, self.terms, self.sentence)


def encoder() -> embedding.Encoder | None:
    """The embedding model of ``MATCH_MODEL_DIR``, loaded once per process; None when
    matching by meaning is off or the model cannot be loaded (logged)."""
    where = settings.MATCH_MODEL_DIR
    if not where or where.lower() == "off":
        return None
    return embedding.load(where)


def fill_embeddings(papers: Sequence[Paper], previous: Mapping[str, Paper] | None = None) -> int:
    """Set the embedding of each of ``papers`` (unsaved): kept from ``previous`` (key ->
    the stored paper) when its title and abstract are unchanged and the running model made
    it, made now otherwise, cleared when there is no model. How many were made."""
    model = encoder()
    todo = []
    for paper in papers:
        old = (previous or {}).get(paper.key)
        same_text = old is not None and (old.title, old.abstract) == (paper.title, paper.abstract)
        if (
            old is not None
            and same_text
            and old.embedding
            and old.embedding_model == (model.name if model else "")
        ):
            paper.embedding, paper.embedding_model = old.embedding, old.embedding_model
        elif model is not None:
            todo.append(paper)
        elif not same_text:
            paper.embedding, paper.embedding_model = None, ""
    if todo and model is not None:  # todo holds papers only when there is a model
        vectors = model.encode([embedding.paper_text(p.title, p.abstract) for p in todo])
        for paper, vector in zip(todo, vectors, strict=True):
            paper.embedding = embedding.to_bytes(vector)
            paper.embedding_model = model.name
    return len(todo)


def embed_papers(papers: QuerySet[Paper], batch: int = 500) -> int:
    """Store the embedding of each of ``papers`` that lacks one of the running model (the
    backfill of ``manage.py embed_papers``); how many were made."""
    model = encoder()
    if model is None:
        return 0
    stale = papers.exclude(embedding_model=model.name) | papers.filter(embedding=None)
    ids = list(stale.order_by("pk").values_list("pk", flat=True))
    made = 0
    for start in range(0, len(ids), batch):
        chunk = list(
            Paper.objects.filter(pk__in=ids[start : start + batch]).only(
                "key", "title", "abstract", "embedding", "embedding_model"
            )
        )
        for paper in chunk:
            paper.embedding_model = ""  # made again whatever it holds
        made += fill_embeddings(chunk)
        Paper.objects.bulk_update(chunk, ["embedding", "embedding_model"])
    return made


def check_topic(text: str) -> None:
    """Raise TopicSyntaxError (with ``.position``) if ``text`` is not a valid topic."""
    tl.parse(text)


def doc_of(paper: Paper) -> Doc:
    authors = paper.authors if isinstance(paper.authors, list) else []
    categories = paper.categories if isinstance(paper.categories, list) else []
    return Doc(
        title=paper.title or "",
        abstract=_with_keywords(paper.abstract or "", paper.keywords),
        authors=tuple(a.get("name", "") if isinstance(a, dict) else str(a) for a in authors),
        categories=tuple(str(c) for c in categories),
        upvotes=paper.upvotes or 0,
        arxiv_id=paper.arxiv_id or "",
    )


def _with_keywords(abstract: str, keywords: object) -> str:
    """The abstract with the source's keywords after it (Hugging Face's ai_keywords), so a
    topic matches a paper its keywords name even when the abstract words it otherwise."""
    if not isinstance(keywords, list) or not keywords:
        return abstract
    return f"{abstract}. " + "; ".join(str(word) for word in keywords)


class DayIndex:
    """The index of one set of papers with each distinct topic's ranked result."""

    def __init__(self, papers: list[Paper]) -> None:
        model = encoder()
        self.index = PaperIndex(
            [doc_of(p) for p in papers],
            encoder=model,
            vectors=[_stored_vector(p, model) for p in papers],
        )
        self.popular = ranking.popularity(self.index.docs)
        self.number = {p.pk: n for n, p in enumerate(papers)}
        self.by_arxiv_id: dict[str, Doc | None] = {
            p.arxiv_id.lower(): self.index.docs[n] for n, p in enumerate(papers) if p.arxiv_id
        }
        self.by_key = {_key(p): p for p in papers}
        # Each topic's result, least recently used first. Bounded: memory would otherwise
        # grow all day with the number of distinct personal topics (docs/scaling.md).
        self.results: OrderedDict[tuple[str, str], ranking.Ranked] = OrderedDict()
        self.numbers = itertools.count()
        self.whys: dict[tuple[str, str, int], Why] = {}
        self.lock = threading.Lock()
        self.learner: taste.Learner | None = None

    def taste(self, votes: Sequence[taste.Vote]) -> taste.Taste | None:
        """The model of a subscriber's votes over these papers; None without votes or
        without matching by meaning (a small day, the model off): words only then."""
        if not votes or self.index.space is None:
            return None
        with self.lock:  # the learner keeps each voted paper's place, for every caller
            if self.learner is None:
                self.learner = taste.Learner(self.index.space, self.popular)
            return self.learner.taste(votes)

    def load_like(self, nodes: Sequence[tl.Node]) -> None:
        """Fetch, in one query, the papers that "more like" topics name and we lack."""
        wanted = {i for node in nodes for i in _like_ids(node)} - self.by_arxiv_id.keys()
        if not wanted:
            return
        found = Paper.objects.filter(arxiv_id__in=wanted).only(
            "title", "abstract", "keywords", "arxiv_id"
        )
        for paper in found:
            self.by_arxiv_id[paper.arxiv_id.lower()] = doc_of(paper)
        for missing in wanted - self.by_arxiv_id.keys():
            self.by_arxiv_id[missing] = None

    def like(self) -> dict[str, Doc | None]:
        # The dict itself, not a copy without the Nones (evaluate and terms read None as
        # "not found"): a copy per call was a quarter of matching in the daily run.
        return self.by_arxiv_id

    def ranked(self, query: str, node: tl.Node, about: str = "") -> ranking.Ranked:
        """The topic's matches, evaluated once whoever asks while it stays in the cache
        (``MATCH_TOPIC_CACHE_SIZE`` topics, least recently used dropped first). ``about``
        describes a catalogue topic (its name and description) for the cut by meaning."""
        key = (query, about)
        with self.lock:
            found = self.results.get(key)
            if found is None:
                hits = self.index.topic(node, self.like(), about)
                found = self.results[key] = ranking.rank(hits, self.popular, next(self.numbers))
                while len(self.results) > settings.MATCH_TOPIC_CACHE_SIZE:
                    self.results.popitem(last=False)
            else:
                self.results.move_to_end(key)
            return found

    def prepare(self, topics: Sequence[tuple[tl.Node, str]]) -> None:
        """Embed the meaning of the (topic, about) pairs about to be evaluated, at once."""
        with self.lock:
            self.index.prepare(topics)

    def match(
        self,
        score: float,
        doc: int,
        query: str,
        node: tl.Node,
        label: str,
        papers: Sequence[Paper],
        about: str = "",
    ) -> Match:
        """The Match of paper ``doc`` for a topic, with its why: worked out once per topic
        and paper, as every subscriber who gets them is told the same."""
        key = (query, about, doc)
        with self.lock:  # explaining reads the index's caches
            why = self.whys.get(key)
            if why is None:
                if len(self.whys) >= 200_000:
                    self.whys.clear()
                why = self.whys[key] = self.index.explain(node, doc, self.like(), about)
        return Match(papers[doc], round(score, 4), label, why.terms, why.kind, why.sentence)


_cache: dict[tuple, DayIndex] = {}
_cache_lock = threading.Lock()
# Set in Celery worker processes (config/celery.py), where a day's index lives all day.
FREEZE_INDEXES = False


def _key(paper: Paper) -> tuple:
    return (paper.pk, paper.updated_at, paper.upvotes)


def _stored_vector(paper: Paper, model: embedding.Encoder | None):
    """The paper's stored embedding if the running model made it, else None (the index
    embeds it then: papers stored before the model or by another one)."""
    if model is None or paper.embedding_model != model.name:
        return None
    return embedding.from_bytes(paper.embedding, model.dimensions)


def indexed_papers(keys: Sequence[tuple]) -> list[Paper] | None:
    """The papers with these ``(pk, updated_at, upvotes)`` keys as an index of this process
    holds them, or None if any is not indexed here: so a caller can read the keys alone
    and fetch whole papers (abstracts and all) only when the index must be built."""
    with _cache_lock:
        indexes = list(_cache.values())
    found = []
    for key in keys:
        paper = next((day.by_key[key] for day in indexes if key in day.by_key), None)
        if paper is None:
            return None
        found.append(paper)
    return found


def day_index(papers: Sequence[Paper]) -> DayIndex:
    """The index of these papers, reused while none of them changed."""
    key = tuple(_key(p) for p in papers)
    with _cache_lock:
        cached = _cache.pop(key, None)
        if cached is None:
            # Two: the day's index stays while an admin preview indexes other papers.
            while len(_cache) >= 2:
                del _cache[next(iter(_cache))]
            cached = DayIndex(list(papers))
            if FREEZE_INDEXES:
                # The index is kept all day; without this every full garbage collection
                # rescans its ~10^6 small objects, a third of a worker's time in the daily
                # run (docs/scaling.md). Reference counting still frees it when replaced.
                # Collected first: garbage pending now would otherwise be frozen for good.
                gc.collect()
                gc.freeze()
        _cache[key] = cached  # last used last
        return cached


def match_topic(
    text: str,
    papers: PaperQuerySet | Sequence[Paper] | None = None,
    *,
    day: datetime.date | None = None,
    about: str = "",
) -> list[Match]:
    """Every paper ``text`` matches, best first (all papers, or those listed on ``day``).
    ``about`` is a catalogue topic's name and description (see ``Topic.about``)."""
    node = tl.parse(text)
    if papers is None:
        chosen = Paper.objects.all()
    elif isinstance(papers, QuerySet):
        chosen = papers
    else:  # a list of papers is fine too
        chosen = Paper.objects.filter(pk__in=[p.pk for p in papers])
    if day is not None:
        chosen = chosen.listed_on(day)
    found = list(chosen.order_by("pk"))
    index = day_index(found)
    index.load_like([node])
    ranked = index.ranked(text, node, about)
    return [
        index.match(-neg, doc, text, node, text, found, about) for neg, doc, _ in ranked.entries
    ]


@dataclass(frozen=True)
class Preview:
    count: int  # distinct papers all the topics match
    best: list[Match]  # the best few, with why
    skipped: list[str]  # topics not evaluated: the request's time was spent


def preview_topics(
    topics: Sequence[tuple[str, str, str]],
    day: datetime.date,
    *,
    seconds: float,
    best: int = 3,
) -> Preview:
    """What ``topics`` ((query, label, about) each) find among the papers listed on
    ``day``: how many papers in all and the ``best`` few, explained.

    Bounded work for a public endpoint: the day's index is the one the process already
    holds (only the papers' keys are read to find it), each distinct topic is evaluated
    once per process (``DayIndex.ranked``), the count needs no Match per paper, and once
    ``seconds`` are spent the remaining topics are skipped, not evaluated."""
    deadline = time.perf_counter() + seconds
    keys = list(
        Paper.objects.listed_on(day).order_by("pk").values_list("pk", "updated_at", "upvotes")
    )
    papers = indexed_papers(keys)
    if papers is None:
        papers = list(Paper.objects.filter(pk__in=[k[0] for k in keys]).order_by("pk"))
    index = day_index(papers)
    top: dict[int, tuple[float, int]] = {}  # paper -> (score, topic number)
    parsed: list[tuple[str, tl.Node, str, str]] = []
    skipped = []
    for query, label, about in topics:
        if parsed and time.perf_counter() > deadline:  # the first is always answered
            skipped.append(label)
            continue
        node = tl.parse(query)
        index.load_like([node])
        number = len(parsed)
        parsed.append((query, node, label, about))
        for negative, doc, _ in index.ranked(query, node, about).entries:
            if doc not in top or -negative > top[doc][0]:
                top[doc] = (-negative, number)
    chosen = heapq.nsmallest(best, top.items(), key=lambda item: (-item[1][0], item[0]))
    shown = [
        index.match(score, doc, query, node, label, papers, about)
        for doc, (score, n) in chosen
        for query, node, label, about in [parsed[n]]
    ]
    return Preview(len(top), shown, skipped)


def select_for_subscribers(
    subscribers: Sequence[Subscriber],
    papers: Sequence[Paper],
    *,
    since: Mapping[int, datetime.date] | None = None,
    listed: Mapping[int, datetime.date] | None = None,
) -> dict[int, list[Match]]:
    """Each subscriber's matches among ``papers``, best first, without papers already
    sent to them, with their feedback, ``min_score`` and ``max_papers`` applied.

    ``since`` (subscriber pk -> day) gives a subscriber a window: only the papers whose
    last listing day in ``listed`` (paper pk -> day) is on or after it. So one index over
    all of ``papers`` serves subscribers whose windows differ, and the window applies
    before the cap: a subscriber gets up to ``max_papers`` of the papers in their window.

    Three queries whatever the number of subscribers (a fourth when a "more like" topic
    names a paper outside ``papers``). A topic that does not parse is logged and skipped."""
    if since and listed is None:
        raise TypeError("a window (since) needs the papers' listing days (listed)")
    ids = [s.pk for s in subscribers]
    if not ids:
        return {}
    papers = list(papers)
    index = day_index(papers)
    topics = _topics_by_subscriber(ids)
    sent = _sent(ids, papers, index.number)
    votes = _votes(ids, index)

    parsed: dict[str, tl.Node | None] = {}
    wanted: dict[int, list[tuple[str, str, str]]] = {}
    for subscriber in subscribers:
        lines = subscriber.own_topic_lines
        triples = topics.get(subscriber.pk, []) + [(line, line, "") for line in lines]
        wanted[subscriber.pk] = triples
        for query, _, _ in triples:
            if query not in parsed:
                parsed[query] = _parse_or_log(query, subscriber.pk)
    index.load_like([node for node in parsed.values() if node is not None])
    index.prepare(
        list(
            {
                (node, about)
                for triples in wanted.values()
                for query, _, about in triples
                for node in [parsed[query]]
                if node is not None
            }
        )
    )

    # Which papers each distinct window holds, by index number; None: all of them.
    windows: dict[datetime.date | None, list[bool] | None] = {None: None}
    # Each distinct topic is looked up (and evaluated) once per call, even if the index's
    # bounded cache drops it meanwhile, and cut to each distinct window once: a chunk has
    # a few windows (first digests, daily, weekly), not one per subscriber.
    results: dict[tuple[str, str, datetime.date | None], ranking.Ranked] = {}

    def ranked_in(
        query: str, node: tl.Node, about: str, day: datetime.date | None
    ) -> ranking.Ranked:
        found = results.get((query, about, day))
        if found is None:
            if day is None:
                found = index.ranked(query, node, about)
            else:
                inside = windows[day]
                assert inside is not None  # a window of every paper is looked up as day None
                found = ranking.within(ranked_in(query, node, about, None), inside)
            results[query, about, day] = found
        return found

    out: dict[int, list[Match]] = {}
    for subscriber in subscribers:
        day = since.get(subscriber.pk) if since else None
        if day not in windows:
            assert day is not None and listed is not None  # None is in windows; since needs listed
            windows[day] = _window(papers, listed, day)
        if windows[day] is None:
            day = None  # the window holds every paper
        chosen: dict[int, tuple[str, ranking.Ranked, tl.Node, str, str]] = {}
        for query, label, about in wanted[subscriber.pk]:
            node = parsed[query]
            if node is not None:
                ranked = ranked_in(query, node, about, day)
                chosen.setdefault(ranked.number, (label, ranked, node, about, query))
        liking = index.taste(votes.get(subscriber.pk, ()))
        picks = ranking.select(
            [ranked for _, ranked, _, _, _ in chosen.values()],
            cap=subscriber.max_papers,
            min_score=subscriber.min_score,
            exclude=sent.get(subscriber.pk, frozenset()),
            taste=liking,
            inside=windows[day],
        )
        matches = out[subscriber.pk] = []
        for score, doc, topic in picks:
            if topic == ranking.BY_TASTE:
                assert liking is not None  # only a taste adds papers
                matches.append(_liked_match(score, papers[doc], liking.closest_liked(doc)))
            else:
                label, _, node, about, query = chosen[topic]
                matches.append(index.match(score, doc, query, node, label, papers, about))
    return out


# The label of a paper the subscriber's votes brought, in the email's topic chip.
LIKED_LABEL = "papers you liked"


def _liked_match(score: float, paper: Paper, liked_title: str) -> Match:
    """A paper no topic brought, added because it resembles ``liked_title``."""
    return Match(paper, round(score, 4), LIKED_LABEL, (), DigestItem.Kind.FEEDBACK, liked_title)


def _window(
    papers: list[Paper], listed: Mapping[int, datetime.date], day: datetime.date
) -> list[bool] | None:
    """Per paper (index number), whether it was last listed on or after ``day``; None
    when all were (no cut needed). A paper without a listing day is outside any window."""
    inside = [(listed.get(p.pk) or datetime.date.min) >= day for p in papers]
    return None if all(inside) else inside


def _parse_or_log(query: str, subscriber_id: int) -> tl.Node | None:
    try:
        return tl.parse(query)
    except TopicSyntaxError as error:
        log.warning("Skipping topic %r of subscriber %s: %s", query, subscriber_id, error)
        return None


def _topics_by_subscriber(ids: list[int]) -> dict[int, list[tuple[str, str, str]]]:
    """Catalogue topics as (query, name, about) per subscriber, in the catalogue's order."""
    through = Topic.subscribers.through
    rows = (
        through.objects.filter(subscriber_id__in=ids)
        .order_by("topic__order", "topic__name")
        .values_list("subscriber_id", "topic__query", "topic__name", "topic__description")
    )
    out: dict[int, list[tuple[str, str, str]]] = {}
    for subscriber_id, query, name, description in rows:
        out.setdefault(subscriber_id, []).append((query, name, Topic.about_text(name, description)))
    return out


def _sent(ids: list[int], papers: list[Paper], number: dict[int, int]) -> dict[int, set[int]]:
    """Per subscriber, the papers (as index numbers) already in one of their sent digests,
    or in one held as "unknown": it may have reached them, and a paper twice is worse than
    a paper missed (the operator's resend sends that digest's own papers, not new ones).

    A digest sent before a paper was first seen cannot hold it, so for papers first seen in
    the last RECENT_DAYS only the digests sent since the earliest of them are read (through
    the (subscriber, sent_at) index), not the subscribers' whole history against a list of
    every paper id; papers first seen earlier (listed again, such as an arXiv replacement)
    are looked for by id."""
    horizon = timezone.now() - datetime.timedelta(days=RECENT_DAYS)
    recent = [p.first_seen_at for p in papers if p.first_seen_at >= horizon]
    older = [p.pk for p in papers if p.first_seen_at < horizon]
    # No send time: a digest marked sent by hand; the margin covers clocks a little apart.
    wanted = Q(digest__sent_at=None) | Q(paper_id__in=older)
    if recent:
        wanted |= Q(digest__sent_at__gte=min(recent) - datetime.timedelta(hours=1))
    rows = DigestItem.objects.filter(
        wanted,
        digest__subscriber_id__in=ids,
        digest__status__in=[Digest.Status.SENT, Digest.Status.UNKNOWN],
    ).values_list("digest__subscriber_id", "paper_id")
    out: dict[int, set[int]] = {}
    for subscriber_id, paper_id in rows:
        if paper_id in number:  # a recent digest also holds papers of other days
            out.setdefault(subscriber_id, set()).add(number[paper_id])
    return out


def _votes(ids: list[int], index: DayIndex) -> dict[int, list[taste.Vote]]:
    """Per subscriber, their votes as the model reads them: a paper of the day by its
    number there, another by its stored embedding if the running model made it."""
    space = index.index.space
    model = space.encoder.name if space is not None else None
    rows = (
        Feedback.objects.filter(subscriber_id__in=ids)
        .order_by("pk")
        .values_list(
            "subscriber_id",
            "paper_id",
            "value",
            "paper__title",
            "paper__embedding",
            "paper__embedding_model",
        )
    )
    out: dict[int, list[taste.Vote]] = {}
    for subscriber_id, paper_id, value, title, stored, embedded_by in rows:
        doc = index.number.get(paper_id)
        stored = stored if doc is None and embedded_by == model else None
        out.setdefault(subscriber_id, []).append(taste.Vote(paper_id, value, title, doc, stored))
    return out


def _like_ids(node: tl.Node) -> list[str]:
    if isinstance(node, tl.Like):
        return [node.arxiv_id]
    if isinstance(node, tl.And):
        return [i for child in node.include + node.exclude for i in _like_ids(child)]
    if isinstance(node, tl.Or):
        return [i for child in node.options for i in _like_ids(child)]
    return []
