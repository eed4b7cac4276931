"""``manage.py send_digests`` and ``manage.py preview_digest``."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Subscriber
from digest.models import Digest
from tests.support.delivery_world import due_subscribers, list_papers, sending_to
from tests.support.fake_provider import running

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    with running() as fake, sending_to(fake.url):
        yield fake


@pytest.fixture
def due_now():
    now = timezone.now()
    list_papers(now.date())
    return due_subscribers(3, now=now - dt.timedelta(minutes=1))


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_send_digests_sends_what_is_due_and_ends_with_a_summary(provider, due_now):
    output = run("send_digests")

    assert "chunk 1/1: 3 sent" in output
    assert output.strip().endswith("Done: 3 sent.")
    assert len(provider.accepted) == 3


def test_send_digests_dry_run_shows_who_would_get_what_and_sends_nothing(provider, due_now):
    output = run("send_digests", "--dry-run")

    assert "reader0@example.org: " in output and " papers" in output
    assert "Dry run, nothing sent: 3 would be sent." in output
    assert provider.calls == [] and not Digest.objects.exists()


def test_send_digests_now_sends_todays_edition_to_one_address_not_yet_due(provider):
    now = timezone.now()
    list_papers(now.date())
    (ada,) = due_subscribers(1, now=now + dt.timedelta(hours=2))

    assert run("send_digests") == "Nobody is due.\n"
    output = run("send_digests", "--now", "--email", ada.email.upper())

    assert "1 sent" in output
    assert provider.recipients() == {ada.email: 1}
    # Running it again sends nothing more: the edition is claimed and done.
    run("send_digests", "--now", "--email", ada.email)
    assert len(provider.accepted) == 1


def test_send_digests_refuses_an_unknown_or_inactive_address(provider, due_now):
    with pytest.raises(CommandError, match="No subscriber"):
        run("send_digests", "--email", "nobody@example.org")
    Subscriber.objects.filter(pk=due_now[0].pk).update(status=Subscriber.Status.UNSUBSCRIBED)
    with pytest.raises(CommandError, match="unsubscribed"):
        run("send_digests", "--email", due_now[0].email)


def test_preview_digest_prints_the_text_and_writes_both_parts(provider, due_now, tmp_path):
    html, text = tmp_path / "d.html", tmp_path / "d.txt"

    output = run("preview_digest", due_now[0].email, "--html", str(html), "--text", str(text))

    assert output.startswith("Subject: ")
    assert "<html" in html.read_text().lower()
    assert text.read_text().strip()
    assert provider.calls == [] and not Digest.objects.exists()


def test_preview_digest_says_when_nothing_matches(provider):
    (ada,) = due_subscribers(1)
    assert "Nothing new matches" in run("preview_digest", ada.email)
