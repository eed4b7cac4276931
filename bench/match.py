"""Matching benchmark: one day's papers, a crowd of subscribers with ten topics each; match,
rank and cut to each subscriber's top N. Prints each figure beside its goal and the naive
way (one regex pass per subscriber over every paper) measured on a 1,000-subscriber slice.

    .venv/bin/python -m bench.match [--papers 2500] [--subscribers 100000 10000]

It runs the pure in-memory engine (``digest.paper_index`` and ``digest.ranking``, the code
``select_for_subscribers`` calls after its three queries); no database is involved. Papers
and topics come from ``bench/data.py`` (real titles and abstracts recombined, the catalogue,
personal topics with phrases, exclusions, alternatives and authors), seeded.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.data import CATALOGUE, make_papers, personal_topics
from digest import ranking
from digest import topic_language as tl
from digest.paper_index import Doc, PaperIndex

TOPICS_EACH = 10
NAIVE_SLICE = 1000


@dataclass(frozen=True)
class Reader:
    topics: tuple[str, ...]
    cap: int
    liked: tuple[int, ...]  # papers of earlier days they gave a thumbs up (as sample docs)


def readers(count: int, pool: Sequence[str], seed: int = 5) -> list[Reader]:
    """Each reader: 2 to 6 catalogue topics (popular ones more often), the rest typed by
    themselves from a shared pool; caps of 5, 10 or 20; 2% have given feedback."""
    rng = random.Random(seed)
    catalogue = [query for _, query in CATALOGUE]
    weights = [1 / (k + 1) for k in range(len(catalogue))]
    out = []
    for _ in range(count):
        picked = set(rng.choices(catalogue, weights, k=rng.randint(2, 6)))
        while len(picked) < TOPICS_EACH:
            picked.add(rng.choice(pool))
        liked = tuple(rng.sample(range(200), 3)) if rng.random() < 0.02 else ()
        out.append(Reader(tuple(picked), rng.choice([5, 10, 10, 10, 20]), liked))
    return out


def engine(index: PaperIndex, crowd: Sequence[Reader], history: Sequence[Doc]) -> int:
    """Match, rank and cut for every reader; returns how many papers were picked."""
    popular = ranking.popularity(index.docs)
    results: dict[str, ranking.Ranked] = {}
    picked = 0
    for reader in crowd:
        lists = []
        for query in reader.topics:
            ranked = results.get(query)
            if ranked is None:
                try:
                    hits = index.evaluate(tl.parse(query))
                except tl.TopicSyntaxError:  # skipped, as select_for_subscribers does
                    hits = {}
                ranked = results[query] = ranking.rank(hits, popular, len(results))
            lists.append(ranked)
        taste = None
        if reader.liked:
            taste = ranking.Taste.from_feedback(index, [(history[i], 1) for i in reader.liked])
        picked += len(ranking.select(lists, cap=reader.cap, taste=taste, index=index))
    return picked


def naive(docs: Sequence[Doc], crowd: Sequence[Reader]) -> int:
    """What one would write first: per reader, per topic, a regex over every paper."""
    picked = 0
    for reader in crowd:
        found: dict[int, float] = {}
        for query in reader.topics:
            words = re.findall(r"\w+", query.split(":", 1)[-1])
            pattern = re.compile("".join(rf"(?=.*\b{re.escape(w)})" for w in words), re.I | re.S)
            for number, doc in enumerate(docs):
                if pattern.match(f"{doc.title} {doc.abstract}"):
                    found[number] = float(doc.upvotes)
        picked += len(sorted(found, key=found.get, reverse=True)[: reader.cap])
    return picked


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def say(line: str) -> None:
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=2500)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100_000, 10_000])
    parser.add_argument("--naive", type=int, default=NAIVE_SLICE, help="slice size; 0 skips")
    args = parser.parse_args()

    papers = make_papers(args.papers)
    docs = [
        Doc(p.title, p.abstract, p.authors, p.categories, p.upvotes, p.arxiv_id) for p in papers
    ]
    history = [Doc(p.title, p.abstract) for p in make_papers(200, seed=9)]
    started = time.perf_counter()
    index = PaperIndex(docs)
    index.vectors()
    built = time.perf_counter() - started
    say(f"papers: {len(docs):,}; index built in {built:.2f} s (once per day and worker)")

    goals = {100_000: 5.0, 10_000: 1.0}
    per_reader = {}
    for count in args.subscribers:
        pool = personal_topics(papers, max(100, count // 10), seed=count)
        crowd = readers(count, pool)
        distinct = len({q for r in crowd for q in r.topics})
        gc.collect()
        started = time.perf_counter()
        picked = engine(index, crowd, history)
        took = time.perf_counter() - started
        per_reader[count] = took / count
        goal = goals.get(count)
        verdict = f" (goal <= {goal:.0f} s: {'met' if took <= goal else 'MISSED'})" if goal else ""
        say(
            f"{count:>7,} subscribers x {TOPICS_EACH} topics ({distinct:,} distinct): "
            f"{took:.2f} s{verdict}, {picked:,} papers picked"
        )
    say(f"peak memory (whole process): {peak_mib():.0f} MiB (goal <= 1024 MiB)")
    if not args.naive:
        return
    crowd = readers(args.naive, personal_topics(papers, max(100, args.naive // 10), seed=1))
    started = time.perf_counter()
    naive(docs, crowd)
    slow = (time.perf_counter() - started) / args.naive
    say(f"naive, {args.naive:,}-subscriber slice: {slow * args.naive:.1f} s")
    for count, seconds in per_reader.items():
        say(
            f"per subscriber: naive {slow * 1e3:.1f} ms, engine at {count:,} "
            f"{seconds * 1e6:.0f} us: {slow / seconds:,.0f}x faster"
        )


if __name__ == "__main__":
    main()
