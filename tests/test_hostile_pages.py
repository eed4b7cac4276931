"""Hostile feed fields through the real ingest: stored as clean text, and harmless on
every page that shows a paper (public pages, admin pages, the admin's and the
subscriber's previews, the web view, the feedback page) and in the email."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.tokens import make_token
from digest.ingest.store import ingest_file
from digest.mail.compose import render_digest
from digest.models import Paper, Topic
from tests.support.pages import make_papers
from tests.support.sample_digest import Tags, match, sent_digest, subscriber

pytestmark = pytest.mark.django_db

# Feed-controlled values as an attacker wrote them (issue 16).
TITLE = "<foo onload=alert(1)>Robot</foo> <x/onclick=alert(2)>learning\u202e\x00"
ABSTRACT = (
    "&lt;img src=x onerror=alert(3)&gt; A robot &amp;lt;script&amp;gt;alert(4)"
    "&amp;lt;/script&amp;gt;walks.\u2066 \x1b[31m"
)
AUTHOR = "<custom-el data-x=1>Eve</custom-el>\u202dAda"
REPO = 'https://github.com/x"><script/src=/static/x.js></script>'
PROJECT = "https://example.org/p'onmouseover=alert(5)"
NEEDLES = ["<foo ", "<x/", "<script/", "/static/x.js", "<img src=x", "<custom-el", "alert("]
HIDDEN = ["\u202e", "\u202d", "\u2066", "\x00", "\x1b"]


def hostile_feed(tmp_path) -> Paper:
    body = [
        {
            "paper": {
                "id": "2608.00042",
                "title": TITLE,
                "summary": ABSTRACT,
                "authors": [{"name": AUTHOR}],
                "githubRepo": REPO,
                "projectPage": PROJECT,
                "publishedAt": "2026-08-20T00:00:00.000Z",
                "submittedOnDailyAt": f"{timezone.now().date()}T08:00:00.000Z",
                "upvotes": 7,
            },
            "numComments": 1,
        }
    ]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(body))
    assert ingest_file(path, day=timezone.now().date()).new == 1
    return Paper.objects.get(arxiv_id="2608.00042")


def assert_harmless(text: str, where: str) -> None:
    for tag, attrs in Tags(text).tags:
        assert tag not in {"foo", "x", "custom-el"}, where
        assert not [name for name in attrs if name.startswith("on")], where
        assert not attrs.get("src", "").endswith("/x.js"), where
    lowered = text.lower()
    for needle in NEEDLES + HIDDEN:
        assert needle not in lowered, (where, needle)


def test_hostile_feed_fields_are_stored_clean(tmp_path):
    paper = hostile_feed(tmp_path)
    assert paper.title == "Robot learning"
    assert paper.abstract == "A robot walks. [31m"
    assert paper.authors == ["Eve Ada"]
    assert (paper.code_url, paper.project_url) == ("", "")


def test_hostile_feed_fields_are_harmless_on_every_page_and_in_the_email(tmp_path, client):
    paper = hostile_feed(tmp_path)
    Topic.objects.create(name="Embodied agents", query="robot")
    reader = subscriber()
    matches = [match(paper, "Embodied agents", ("robot",))]
    digest = sent_digest(reader, matches)
    email = render_digest(reader, matches, digest=digest)
    for part, text in (("subject", email.subject), ("text", email.text), ("html", email.html)):
        assert_harmless(text, f"email {part}")
    operator = User.objects.create_superuser("operator@example.org")
    client.force_login(operator)
    day = timezone.now().date()
    pages = [
        "/",
        f"/papers/{day}/",
        "/admin/",
        "/admin/digest/paper/",
        f"/admin/digest/paper/{paper.pk}/change/",
        f"/admin/digest/digest/{digest.pk}/change/",
        f"/admin/accounts/subscriber/{reader.pk}/change/",
        f"/admin/accounts/subscriber/{reader.pk}/preview/",
        f"/admin/accounts/subscriber/{reader.pk}/preview/email.html",
        f"/digests/{make_token('webview', reader.pk, d=digest.pk)}/",
        f"/feedback/{make_token('feedback', reader.pk, d=digest.pk, p=paper.pk, v=1)}/",
    ]
    for url in pages:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert_harmless(response.content.decode(), url)


def test_the_admin_preview_escapes_the_emails_text_part(client):
    # Text the cleaner rightly keeps (TeX) still holds "<": the text part, rendered with
    # autoescape off, must be escaped where the admin shows it in HTML.
    make_papers(1, day=timezone.now().date(), title="Knowledge distillation for $0<x<1$ and $y>2$")
    reader = subscriber(own_topics="knowledge distillation")
    client.force_login(User.objects.create_superuser("operator@example.org"))
    page = client.get(f"/admin/accounts/subscriber/{reader.pk}/preview/").content.decode()
    text_part = page.split('class="pw-preview-text">', 1)[1].split("</pre>", 1)[0]
    assert "$0&lt;x&lt;1$ and $y&gt;2$" in text_part
    assert "<x<1$" not in text_part
