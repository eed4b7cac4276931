"""Matching benchmark: one day's papers, a crowd of subscribers with ten topics each; match,
rank and cut to each subscriber's top N. Prints each figure beside its goal and the naive
way (one regex pass per subscriber over every paper) measured on a 1,000-subscriber slice,
by words alone (matching as it was before meaning) and by words and meaning (the default
now; the papers' embeddings made beforehand, as ingest stores them, and the why of every
pick worked out, as delivery does). By words and meaning, each crowd runs once per share
of subscribers who voted (``--voters``: none, the baseline, and a share with three "more
like this" and one "less like this" on papers of earlier days, whose models then re-rank
and add papers, as ``select_for_subscribers`` does).

    .venv/bin/python -m bench.match [--papers 2500] [--subscribers 100000 10000]
                                    [--voters 0 0.02 0.2]

It runs the pure in-memory engine (``digest.search.index`` and ``digest.search.ranking``, the code
``select_for_subscribers`` calls after its three queries); no database is involved. Papers
and topics come from ``bench/data.py`` (real titles and abstracts recombined, the catalogue,
personal topics with phrases, exclusions, alternatives and authors), seeded.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import random
import re
import resource
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.data import CATALOGUE, make_papers, personal_topics
from digest.search import embedding, ranking, taste
from digest.search import language as tl
from digest.search.embedding import paper_text
from digest.search.index import Doc, PaperIndex

TOPICS_EACH = 10
NAIVE_SLICE = 1000
# A catalogue topic is cut against its name, as digest.matching does with name and description.
ABOUT = {query: name for name, query in CATALOGUE}


@dataclass(frozen=True)
class Reader:
    topics: tuple[str, ...]
    cap: int
    votes: tuple[tuple[int, int], ...]  # (paper of an earlier day, +1 or -1)


def readers(count: int, pool: Sequence[str], seed: int = 5, voters: float = 0.0) -> list[Reader]:
    """Each reader: 2 to 6 catalogue topics (popular ones more often), the rest typed by
    themselves from a shared pool; caps of 5, 10 or 20; a share ``voters`` voted on
    earlier days' papers (three liked, one disliked, of 200)."""
    rng = random.Random(seed)
    voting = random.Random(seed + 1)  # the crowds with and without votes are the same
    catalogue = [query for _, query in CATALOGUE]
    weights = [1 / (k + 1) for k in range(len(catalogue))]
    out = []
    for _ in range(count):
        picked = set(rng.choices(catalogue, weights, k=rng.randint(2, 6)))
        while len(picked) < TOPICS_EACH:
            picked.add(rng.choice(pool))
        votes: tuple[tuple[int, int], ...] = ()
        if voting.random() < voters:
            votes = tuple(zip(voting.sample(range(200), 4), (1, 1, 1, -1), strict=True))
        out.append(Reader(tuple(picked), rng.choice([5, 10, 10, 10, 20]), votes))
    return out


@dataclass
class Timing:
    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Timing:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


def engine(
    index: PaperIndex, crowd: Sequence[Reader], history: Sequence[tuple[str, bytes]]
) -> tuple[Counter[str], Timing, Timing]:
    """Match, rank and cut for every reader: each distinct topic parsed, evaluated and
    ranked once, then each reader's lists merged and cut, with their votes' model when
    they voted (``history``: the earlier days' papers as title and stored embedding).
    Returns the papers picked (and of them, added by votes) and the time of each of the
    two stages."""
    popular = ranking.popularity(index.docs)
    results: dict[str, ranking.Ranked] = {}
    nodes: dict[str, tl.Node | None] = {}
    with Timing() as topics:
        for query in dict.fromkeys(q for reader in crowd for q in reader.topics):
            try:
                nodes[query] = tl.parse(query)
            except tl.TopicSyntaxError:  # skipped, as select_for_subscribers does
                nodes[query] = None
        index.prepare([(n, ABOUT.get(q, "")) for q, n in nodes.items() if n is not None])
        for query, node in nodes.items():
            hits = index.topic(node, about=ABOUT.get(query, "")) if node is not None else {}
            results[query] = ranking.rank(hits, popular, len(results))
    picked: Counter[str] = Counter()
    by_number = {ranked.number: query for query, ranked in results.items()}
    whys: dict[tuple[str, int], object] = {}  # as digest.matching.DayIndex.match keeps them
    learner = None
    with Timing() as readers:
        for reader in crowd:
            liking = None
            if reader.votes and index.space is not None:
                learner = learner or taste.Learner(index.space, popular)  # once per day
                liking = learner.taste(
                    [
                        taste.Vote(paper, value, history[paper][0], None, history[paper][1])
                        for paper, value in reader.votes
                    ]
                )
            lists = [results[query] for query in reader.topics]
            picks = ranking.select(lists, cap=reader.cap, taste=liking)
            for _, doc, number in picks:  # the why of each pick, once per topic and paper
                if number == ranking.BY_TASTE:
                    assert liking is not None  # only a taste adds papers
                    whys["", doc] = liking.closest_liked(doc)
                    continue
                query = by_number[number]
                if (query, doc) not in whys:
                    node = nodes[query]
                    assert node is not None  # a picked paper's topic parsed
                    whys[query, doc] = index.explain(node, doc, about=ABOUT.get(query, ""))
            picked["papers"] += len(picks)
            picked["added"] += sum(1 for pick in picks if pick[2] == ranking.BY_TASTE)
    return picked, topics, readers


def naive(docs: Sequence[Doc], crowd: Sequence[Reader]) -> int:
    """What one would write first: per reader, one regex of all their topics' words run
    over every paper, a topic matching when all its words are found, best upvoted first.
    (Cruder than the engine: no stems, phrases or exclusions.)"""
    texts = [f"{doc.title} {doc.abstract}" for doc in docs]
    picked = 0
    for reader in crowd:
        topics = [re.findall(r"\w+", query.split(":", 1)[-1].lower()) for query in reader.topics]
        words = sorted({w for topic in topics for w in topic}, key=len, reverse=True)
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + ")", re.IGNORECASE)
        found: dict[int, int] = {}
        for number, text in enumerate(texts):
            seen = {word.lower() for word in pattern.findall(text)}
            if any(topic and seen.issuperset(topic) for topic in topics):
                found[number] = docs[number].upvotes
        picked += len(sorted(found, key=found.__getitem__, reverse=True)[: reader.cap])
    return picked


def peak_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def say(line: str) -> None:
    print(line, flush=True)


# What the forked processes read; set before forking, shared copy-on-write.
_shared: dict[str, Any] = {}


def _run_share(part: int) -> tuple[Counter[str], float, float]:
    crowd, parts = _shared["crowd"], _shared["parts"]
    size = -(-len(crowd) // parts)
    picked, topics, cut = engine(
        _shared["index"], crowd[part * size : (part + 1) * size], _shared["history"]
    )
    return picked, topics.cpu, cut.cpu


def run(
    index: PaperIndex, crowd: list[Reader], history: list[tuple[str, bytes]], processes: int
) -> tuple[Counter[str], float, float, float]:
    """(papers picked and added by votes, wall seconds, CPU in topics, CPU in merge and
    cut) with the readers split over ``processes`` forked processes, as Celery worker
    processes split chunks."""
    if processes == 1:
        picked, topics, cut = engine(index, crowd, history)
        return picked, topics.wall + cut.wall, topics.cpu, cut.cpu
    _shared.update(index=index, crowd=crowd, history=history, parts=processes)
    with multiprocessing.get_context("fork").Pool(processes) as pool, Timing() as wall:
        results = pool.map(_run_share, range(processes))
    return (
        sum((r[0] for r in results), Counter()),
        wall.wall,
        sum(r[1] for r in results),
        sum(r[2] for r in results),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=2500)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100_000, 10_000])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--naive", type=int, default=NAIVE_SLICE, help="slice size; 0 skips")
    parser.add_argument(
        "--voters",
        type=float,
        nargs="+",
        default=[0.0, 0.02, 0.2],
        help="shares of subscribers who voted (words and meaning only; 0 is the baseline)",
    )
    args = parser.parse_args()

    papers = make_papers(args.papers)
    docs = [
        Doc(p.title, p.abstract, p.authors, p.categories, p.upvotes, p.arxiv_id) for p in papers
    ]
    model = embedding.load()
    assert model is not None, "the embedding model did not load"
    earlier = make_papers(200, seed=9)
    history = [
        (p.title, embedding.to_bytes(vector))
        for p, vector in zip(
            earlier, model.encode([paper_text(p.title, p.abstract) for p in earlier]), strict=True
        )
    ]
    with Timing() as made:  # done at ingest and stored: not part of matching
        vectors = list(model.encode([paper_text(d.title, d.abstract) for d in docs]))
    say(f"papers: {len(docs):,}; embedded in {made.wall:.2f} s (at ingest, stored)")
    encoders = {"words only": None, "words + meaning": model}

    def built(mode: str) -> PaperIndex:
        """A new index: every run starts cold, as a worker process does each day (an index
        that served an earlier run remembers the topics it evaluated)."""
        index = PaperIndex(docs, encoder=encoders[mode], vectors=vectors)
        index.vectors()
        return index

    for mode in encoders:
        with Timing() as building:
            built(mode)
        say(
            f"{mode}: index built in {building.wall:.2f} s, CPU {building.cpu:.2f} s "
            "(once per day and worker process)"
        )

    goals = {100_000: 5.0, 10_000: 1.0}
    per_reader = {}
    for count in args.subscribers:
        pool = personal_topics(papers, max(100, count // 10), seed=count)
        for mode, encoder in encoders.items():
            for voters in args.voters if encoder is not None else [0.0]:
                crowd = readers(count, pool, voters=voters)
                distinct = len({q for r in crowd for q in r.topics})
                voted = sum(1 for r in crowd if r.votes)
                for processes in args.processes:
                    index = built(mode)
                    gc.collect()
                    picked, took, topics, cut = run(index, crowd, history, processes)
                    per_reader[count, processes, mode, voted] = took / count
                    goal = goals.get(count)
                    met = (
                        f" (goal <= {goal:.0f} s: {'met' if took <= goal else 'MISSED'})"
                        if goal
                        else ""
                    )
                    say(
                        f"{mode}, {voted:,} voted: {count:>7,} subscribers x {TOPICS_EACH} "
                        f"topics, {processes} process(es): {took:.2f} s{met}; "
                        f"CPU {topics:.2f} s in {distinct:,} distinct topics + {cut:.2f} s "
                        f"merging, cutting and explaining; {picked['papers']:,} papers picked, "
                        f"{picked['added']:,} of them added by votes"
                    )
    say(
        f"peak memory: {peak_mib():.0f} MiB in the main process, "
        f"{peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB in the largest forked one "
        "(goal <= 1024 MiB)"
    )
    if not args.naive:
        return
    crowd = readers(args.naive, personal_topics(papers, max(100, args.naive // 10), seed=1))
    with Timing() as spent:
        naive(docs, crowd)
    slow = spent.wall / args.naive
    say(f"naive, {args.naive:,}-subscriber slice: {spent.wall:.1f} s")
    for (count, processes, mode, voted), seconds in per_reader.items():
        say(
            f"per subscriber: naive {slow * 1e3:.1f} ms; engine ({mode}, {voted:,} voted), "
            f"{count:,} "
            f"subscribers, {processes} process(es): {seconds * 1e6:.0f} us; "
            f"{slow / seconds:,.0f}x faster"
        )


if __name__ == "__main__":
    main()
