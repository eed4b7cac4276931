"""What each paper means is worked out once, at ingest, and stored; the DB side of
matching by meaning: the backfill command, another model, no model, the typed why."""

from __future__ import annotations

import datetime as dt
import json
import logging
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from digest import matching
from digest.ingest.store import ingest_file
from digest.models import Paper
from digest.search import embedding

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"
SEED_DAY = DATA / "daily-papers-aug29.rss"


@pytest.fixture
def fresh_models():
    embedding.load.cache_clear()
    yield
    embedding.load.cache_clear()


def test_ingest_stores_each_papers_embedding_with_the_models_name():
    ingest_file(SEED_DAY)
    model = matching.encoder()
    assert model is not None
    papers = list(Paper.objects.all())
    assert len(papers) == 67
    assert {p.embedding_model for p in papers} == {model.name}
    vector = embedding.from_bytes(papers[0].embedding, model.dimensions)
    again = model.encode([embedding.paper_text(papers[0].title, papers[0].abstract)])[0]
    assert float(vector @ again) > 0.999


def test_ingesting_again_keeps_embeddings_and_new_text_makes_a_new_one(monkeypatch):
    ingest_file(SEED_DAY)
    paper = Paper.objects.order_by("pk").first()
    assert paper is not None
    Paper.objects.filter(pk=paper.pk).update(abstract="Something else entirely.")
    made = []
    real = matching.fill_embeddings

    def counting(papers, previous=None):
        made.append(real(papers, previous))
        return made[-1]

    monkeypatch.setattr("digest.ingest.store.fill_embeddings", counting)
    ingest_file(SEED_DAY)  # the feed's text comes back for that one paper only
    assert made == [1]
    paper.refresh_from_db()
    assert paper.abstract != "Something else entirely."
    model = matching.encoder()
    assert model is not None and paper.embedding_model == model.name


def test_the_command_embeds_papers_stored_without_one():
    ingest_file(SEED_DAY)
    Paper.objects.filter(pk__in=Paper.objects.order_by("pk")[:5]).update(
        embedding=None, embedding_model=""
    )
    out = StringIO()
    call_command("embed_papers", "--dry-run", stdout=out)
    assert out.getvalue().startswith("5 papers to embed")
    call_command("embed_papers", stdout=out)
    assert "Embedded 5 papers" in out.getvalue()
    assert not Paper.objects.filter(embedding=None).exists()


def test_matching_uses_papers_without_a_stored_embedding_all_the_same(fresh_models):
    ingest_file(SEED_DAY)
    with_stored = [m.paper.pk for m in matching.match_topic("catastrophic forgetting")]
    matching._cache.clear()
    Paper.objects.update(embedding=None, embedding_model="")
    assert [m.paper.pk for m in matching.match_topic("catastrophic forgetting")] == with_stored


def test_without_a_model_it_matches_by_words_and_says_so(settings, tmp_path, caplog, fresh_models):
    settings.MATCH_MODEL_DIR = str(tmp_path / "no-model-here")
    with caplog.at_level(logging.WARNING):
        ingest_file(SEED_DAY)
        found = matching.match_topic("knowledge distillation")
    assert "matching by words only" in caplog.text
    assert found and all(m.kind == "words" for m in found)
    assert not Paper.objects.exclude(embedding=None).exists()
    with pytest.raises(CommandError, match="No embedding model"):
        call_command("embed_papers")


def test_meaning_can_be_turned_off(settings, fresh_models):
    settings.MATCH_MODEL_DIR = "off"
    assert matching.encoder() is None


def test_match_json_says_how_each_paper_matched():
    ingest_file(SEED_DAY, day=dt.date(2025, 8, 29))
    out = StringIO()
    call_command("match", "RL for math reasoning", "--json", "--limit", "0", stdout=out)
    rows = json.loads(out.getvalue())
    assert {row["kind"] for row in rows} <= {"words", "meaning"}
    assert all(row["topic"] == "RL for math reasoning" for row in rows)
    meant = [row for row in rows if row["kind"] == "meaning"]
    assert meant and all(row["sentence"] and ", by meaning" in row["why"] for row in meant)
