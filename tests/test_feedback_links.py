from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from accounts.tokens import make_token
from digest.mail.compose import render_digest
from digest.mail.feedback import vote_token
from digest.models import Feedback
from tests.support.sample_digest import match, sample_papers, subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper():
    return sample_papers(1)[0]


@pytest.fixture
def reader():
    return subscriber()


def url(token: str) -> str:
    return f"/feedback/{token}/"


def test_the_email_links_to_a_more_and_a_less_like_this_page(client, paper, reader):
    html = render_digest(reader, [match(paper)]).html
    more_link = re.search(r'href="([^"]+)"[^>]*>More like this<', html)
    less_link = re.search(r'href="([^"]+)"[^>]*>Less like this<', html)
    assert more_link and less_link
    more, less = more_link.group(1), less_link.group(1)
    assert client.get(urlsplit(more).path).context["vote"].value == 1
    assert client.get(urlsplit(less).path).context["vote"].value == -1


def test_opening_the_link_shows_one_button_and_records_nothing(client, paper, reader):
    # Mail scanners and link previews open every link: a GET must change nothing.
    response = client.get(url(vote_token(reader, paper, 1)))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<button") == 1
    assert '<form method="post">' in page
    assert "More like this" in page
    assert not Feedback.objects.exists()


def test_pressing_the_button_records_more_like_this(client, paper, reader):
    response = client.post(url(vote_token(reader, paper, 1)))
    assert response.status_code == 200
    assert "You will see more papers like" in response.content.decode()
    (feedback,) = Feedback.objects.all()
    assert (feedback.subscriber, feedback.paper, feedback.value) == (reader, paper, 1)


def test_the_latest_vote_wins_and_each_paper_has_one(client, paper, reader):
    client.post(url(vote_token(reader, paper, 1)))
    client.post(url(vote_token(reader, paper, -1)))
    client.post(url(vote_token(reader, paper, -1)))
    assert list(Feedback.objects.values_list("value", flat=True)) == [-1]


def test_the_thank_you_page_offers_the_opposite_vote(client, paper, reader):
    response = client.post(url(vote_token(reader, paper, 1)))
    opposite = re.search(r'href="(/feedback/[^"]+/)">Less like this<', response.content.decode())
    assert opposite
    assert client.get(opposite.group(1)).context["vote"].value == -1


def test_it_works_without_javascript_through_a_plain_form():
    """A browser without JS: GET the page, submit its form."""
    paper, reader = sample_papers(1)[0], subscriber()
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(url(vote_token(reader, paper, -1))).content.decode()
    assert "<script" not in page.split("</main>")[0].split("<main")[1]
    assert '<form method="post">' in page
    response = browser.post(url(vote_token(reader, paper, -1)))
    assert response.status_code == 200
    assert Feedback.objects.get().value == -1


def test_it_records_a_vote_posted_with_origin_null_as_a_no_referrer_page_sends_it():
    """Chromium sends ``Origin: null`` from a ``Referrer-Policy: no-referrer`` page;
    Django's CSRF check refused it (403) and no vote was ever recorded."""
    paper, reader = sample_papers(1)[0], subscriber()
    browser = Client(enforce_csrf_checks=True)
    browser.get(url(vote_token(reader, paper, 1)))
    response = browser.post(url(vote_token(reader, paper, 1)), headers={"Origin": "null"})
    assert response.status_code == 200
    assert Feedback.objects.get().value == 1


@pytest.mark.parametrize(
    "make_bad",
    [
        pytest.param(lambda r, p: vote_token(r, p, 1)[:-4] + "abcd", id="forged signature"),
        pytest.param(lambda r, p: vote_token(r, p, 1)[:20], id="truncated"),
        pytest.param(lambda r, p: make_token("webview", r.pk, p=p.pk, v=1), id="other purpose"),
        pytest.param(lambda r, p: make_token("feedback", r.pk, p=p.pk, v=5), id="bad vote"),
        pytest.param(lambda r, p: make_token("feedback", r.pk, p=str(p.pk), v=1), id="bad paper"),
        pytest.param(lambda r, p: make_token("feedback", r.pk + 999, p=p.pk, v=1), id="no one"),
        pytest.param(lambda r, p: make_token("feedback", r.pk, p=p.pk + 999, v=1), id="no paper"),
    ],
)
def test_a_bad_token_gets_the_not_valid_page_and_changes_nothing(client, paper, reader, make_bad):
    token = make_bad(reader, paper)
    for response in (client.get(url(token)), client.post(url(token))):
        assert response.status_code == 400
        assert "This link is not valid" in response.content.decode()
    assert not Feedback.objects.exists()


def test_feedback_pages_send_no_referrer(client, paper, reader):
    for response in (
        client.get(url(vote_token(reader, paper, 1))),
        client.post(url(vote_token(reader, paper, 1))),
        client.get(url("forged")),
    ):
        assert response["Referrer-Policy"] == "no-referrer"
