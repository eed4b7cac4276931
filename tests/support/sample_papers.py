"""Every sample paper of tests/data as the matching engine sees it, without a database:
each file parsed by its real parser, the first listing of each paper kept."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from digest.ingest import sources
from digest.search.index import Doc

DATA = Path(__file__).resolve().parent.parent / "data"
NOT_PAPERS = ("relevance-", "README", "arxiv_api_atom_2026_e")


@cache
def sample_docs() -> tuple[tuple[str, ...], tuple[Doc, ...]]:
    """(keys, docs) of the 260 sample papers, in a fixed order."""
    found: dict[str, Doc] = {}
    for path in sorted(DATA.iterdir()):
        if path.name.startswith(NOT_PAPERS):
            continue
        body = path.read_bytes()
        for item in sources.for_kind(sources.detect(body)).parse(body).items:
            found.setdefault(
                item.key,
                Doc(
                    item.title,
                    item.abstract,
                    tuple(item.authors),
                    tuple(item.categories),
                    item.upvotes or 0,
                    item.arxiv_id,
                ),
            )
    return tuple(found), tuple(found.values())
