"""The signup preview is public: whatever the typed topics hold, one preview does a
bounded amount of work (docs/security.md, "Previews")."""

from __future__ import annotations

import pytest

from digest.search import index as search_index
from digest.search import language as tl
from digest.search.index import Doc, PaperIndex
from tests.support.pages import load_real_day

pytestmark = pytest.mark.django_db
PREFIXES = ["con", "pre", "pro", "com", "dis", "inf", "par", "sta", "tra", "rep", "int", "per"]
HOSTILE_LINE = " ".join(f"{prefix}*" for prefix in PREFIXES)


def test_lines_left_when_the_previews_time_is_spent_are_reported_not_evaluated(client, settings):
    load_real_day()
    settings.PREVIEW_SECONDS = 1e-9  # spent before the second line
    typed = "\n".join(["diffusion", "video generation", "reasoning"])
    data = client.get("/subscribe/preview.json", {"q": typed}).json()
    assert data["count"] >= 1
    assert [e["line"] for e in data["errors"]] == [2, 3]
    assert all(e["error"] == "Not previewed: too much at once." for e in data["errors"])


def test_a_hostile_preview_of_twenty_lines_of_wildcards_answers(client):
    load_real_day()
    typed = "\n".join([HOSTILE_LINE] * 20)
    response = client.get("/subscribe/preview.json", {"q": typed})
    assert response.status_code == 200


def test_the_preview_says_why_each_example_matched(client):
    load_real_day()
    data = client.get("/subscribe/preview.json", {"q": "video generation"}).json()
    assert len(data["why"]) == len(data["examples"]) >= 1
    assert all(why.startswith("video generation") for why in data["why"])


def test_a_wildcard_stands_for_at_most_its_most_common_words(monkeypatch):
    monkeypatch.setattr(search_index, "PREFIX_WORDS", 2)
    index = PaperIndex(
        [
            Doc("Contrastive", "contrastive contrastive"),
            Doc("Context", "context contrastive"),
            Doc("Control", "control contrastive context"),
        ]
    )
    found = index.evaluate(tl.parse("con*"))
    words = set(index.terms(tl.parse("con*"), 2))
    assert set(found) == {0, 1, 2}  # "contrastive" and "context": the two most common
    assert words >= {"contrastive", "context"}
