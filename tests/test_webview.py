from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from accounts.tokens import make_token
from digest.mail.compose import render_digest
from digest.models import Digest
from tests.support.sample_digest import match, sample_papers, sent_digest, subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def papers():
    return sample_papers(3)


@pytest.fixture
def reader():
    return subscriber()


def webview_path(html: str) -> str:
    link = re.search(r'href="([^"]+/digests/[^"]+)"', html)
    assert link
    return urlsplit(link.group(1)).path


def titles(html: str) -> list[str]:
    return re.findall(r'class="title-link"[^>]*>([^<]+)<', html)


def test_the_email_links_to_its_web_view_showing_the_stored_papers(client, papers, reader):
    matches = [match(p, "Embodied agents", ("robot", "agents")) for p in papers]
    digest = sent_digest(reader, matches)
    email = render_digest(reader, matches, digest=digest).html
    response = client.get(webview_path(email))
    assert response.status_code == 200
    page = response.content.decode()
    assert titles(page) == titles(email) == [p.title for p in papers]
    # The stored "why" gives back the topic and the terms to highlight.
    assert re.findall(r"<mark[^>]*>([^<]*)</mark>", page) == re.findall(
        r"<mark[^>]*>([^<]*)</mark>", email
    )
    assert "Why: Embodied agents: &quot;robot&quot;, &quot;agents&quot;" in page
    assert "View it in your browser" in email and "View it in your browser" not in page


def test_the_web_view_reads_back_what_real_matching_stored(client, reader):
    from digest.matching import select_for_subscribers
    from digest.models import Paper

    sample_papers(15)
    reader.own_topics = "video generation\nreasoning"
    reader.save()
    matches = select_for_subscribers([reader], list(Paper.objects.all()))[reader.pk]
    assert matches
    digest = sent_digest(reader, matches)
    email = render_digest(reader, matches, digest=digest).html
    page = client.get(webview_path(email)).content.decode()
    marks = r"<mark[^>]*>([^<]*)</mark>"
    assert re.findall(marks, page) == re.findall(marks, email) != []
    chips = r'class="chip"[^>]*>([^<]*)<'
    assert re.findall(chips, page) == re.findall(chips, email)


def test_the_web_view_follows_the_stored_ranks_not_todays_papers(client, papers, reader):
    digest = sent_digest(reader, [match(p) for p in papers])
    digest.items.filter(paper=papers[0]).update(rank=99)
    token = make_token("webview", reader.pk, d=digest.pk)
    page = client.get(f"/digests/{token}/").content.decode()
    assert titles(page) == [papers[1].title, papers[2].title, papers[0].title]


def test_a_token_of_another_subscriber_gets_the_not_valid_page(client, papers, reader):
    digest = sent_digest(reader, [match(papers[0])])
    other = subscriber("eve@example.org")
    response = client.get(f"/digests/{make_token('webview', other.pk, d=digest.pk)}/")
    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()
    assert papers[0].title not in response.content.decode()


@pytest.mark.parametrize(
    "make_bad",
    [
        pytest.param(lambda r, d: make_token("webview", r.pk, d=d.pk)[:-3] + "xyz", id="forged"),
        pytest.param(lambda r, d: make_token("feedback", r.pk, d=d.pk), id="other purpose"),
        pytest.param(lambda r, d: make_token("webview", r.pk, d=str(d.pk)), id="bad digest"),
        pytest.param(lambda r, d: make_token("webview", r.pk, d=d.pk + 999), id="no digest"),
    ],
)
def test_a_bad_token_gets_the_not_valid_page(client, papers, reader, make_bad):
    digest = sent_digest(reader, [match(papers[0])])
    response = client.get(f"/digests/{make_bad(reader, digest)}/")
    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()


def test_a_digest_not_sent_has_no_web_view(client, papers, reader):
    digest = sent_digest(reader, [match(papers[0])])
    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.FAILED)
    response = client.get(f"/digests/{make_token('webview', reader.pk, d=digest.pk)}/")
    assert response.status_code == 400


def test_the_web_view_sends_no_referrer_and_allows_no_script(client, papers, reader):
    digest = sent_digest(reader, [match(papers[0])])
    response = client.get(f"/digests/{make_token('webview', reader.pk, d=digest.pk)}/")
    assert response["Referrer-Policy"] == "no-referrer"
    assert "script-src 'none'" in response["Content-Security-Policy"]
    assert client.get("/digests/forged/")["Referrer-Policy"] == "no-referrer"


def test_the_web_view_shows_a_topic_holding_a_colon_and_quotes_as_typed(client, papers, reader):
    # The stored why used to be read back with a regex, which took "title" for the topic.
    typed = 'title:"graph neural"'
    matches = [match(papers[0], typed, ("graph", "neural"))]
    digest = sent_digest(reader, matches)
    email = render_digest(reader, matches, digest=digest).html
    page = client.get(webview_path(email)).content.decode()
    chips = re.findall(r'class="chip"[^>]*>([^<]*)<', page)
    assert chips == re.findall(r'class="chip"[^>]*>([^<]*)<', email)
    assert chips == ["title:&quot;graph neural&quot;"]
    assert "Why: title:&quot;graph neural&quot;: &quot;graph&quot;, &quot;neural&quot;" in page


def test_a_paper_found_by_meaning_says_so_in_the_email_and_the_web_view(client, papers, reader):
    sentence = "We run networks on phones."
    matches = [match(papers[0], "on-device inference", kind="meaning", sentence=sentence)]
    digest = sent_digest(reader, matches)
    email = render_digest(reader, matches, digest=digest)
    page = client.get(webview_path(email.html)).content.decode()
    why = "Why: on-device inference, by meaning: &quot;We run networks on phones.&quot;"
    assert why in email.html and why in page
    assert 'on-device inference, by meaning: "We run networks on phones."' in email.text
    assert digest.items.get().kind == "meaning"
