from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from digest.models import Listing, Paper, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def papers():
    source = Source.objects.create(name="Test", kind=Source.Kind.FEED)
    today = Paper.objects.create(
        key="a", title="Emergent Mixture-of-Experts", abstract="Experts, mixed.", upvotes=9
    )
    Paper.objects.create(key="b", title="Mixtures of experts revisited", abstract="Old news.")
    Paper.objects.create(key="c", title="Unrelated", abstract="Nothing to see.")
    Listing.objects.create(source=source, paper=today, day=dt.date(2025, 8, 29))


def run(*args: str) -> str:
    out = StringIO()
    call_command("match", *args, stdout=out)
    return out.getvalue()


class TestMatchCommand:
    def test_it_prints_the_matches_best_first_with_a_summary(self, papers):
        out = run("mixture of experts")
        assert out.index("Emergent Mixture-of-Experts") < out.index("Mixtures of experts")
        assert "Unrelated" not in out
        assert out.strip().endswith("2 papers in the database match; 2 shown.")

    def test_it_prints_json_with_title_score_and_why(self, papers):
        rows = json.loads(run("mixture of experts", "--json"))
        assert rows[0]["title"] == "Emergent Mixture-of-Experts"
        assert all(0 < r["score"] <= 1 for r in rows)
        assert rows[0]["why"].startswith('mixture of experts: "')

    def test_it_limits_to_the_papers_listed_on_a_date(self, papers):
        rows = json.loads(run("mixture of experts", "--json", "--date", "2025-08-29"))
        assert [r["title"] for r in rows] == ["Emergent Mixture-of-Experts"]

    def test_it_explains_a_bad_topic_instead_of_crashing(self, papers):
        with pytest.raises(
            CommandError, match=r"Bad topic: This quote is never closed at character 1"
        ):
            run('"mixture of experts')

    def test_it_rejects_a_bad_date(self, papers):
        with pytest.raises(CommandError, match="YYYY-MM-DD"):
            run("experts", "--date", "29/08/2025")

    def test_it_wants_a_topic_or_a_subscriber_and_names_one_it_does_not_know(self, papers):
        with pytest.raises(CommandError, match="a topic or --subscriber"):
            run()
        with pytest.raises(CommandError, match="a topic or --subscriber"):
            run("experts", "--subscriber", "ada@example.org")
        with pytest.raises(CommandError, match=r"No subscriber 'ada@example\.org'"):
            run("--subscriber", "ada@example.org")
