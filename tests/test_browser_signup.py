"""The whole subscriber journey in a real browser (Debian's Chromium, headless)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.core import mail
from django.db import connections

from accounts.models import Subscriber
from tests.support.pages import load_real_day, make_topic

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt install chromium)",
    ),
]


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM
    # reads are plain blocking calls and safe here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.errors = errors
        yield page
        # Let in-flight requests (the topic preview) finish before the database goes.
        page.wait_for_load_state("networkidle")
        browser.close()
        # Inside sync_playwright the test's ORM calls run with their own context,
        # hence their own database connection: close it here, where it was opened.
        connections.close_all()


def emailed_path(live_server) -> str:
    found = re.search(
        r"https?://[^/\s]+(/(?:confirm|manage/sign-in)/[^\s/]+/)", mail.outbox[-1].body
    )
    assert found, mail.outbox[-1].body
    return live_server.url + found.group(1)


def test_it_subscribes_confirms_changes_topics_and_unsubscribes(
    page, live_server, mailoutbox, settings
):
    settings.SITE_URL = live_server.url
    load_real_day()
    topic = make_topic(
        "Test: video generation", query="video", description="Making moving pictures."
    )

    page.goto(live_server.url + "/")
    page.get_by_label("Email address").fill("ada@example.org")
    page.get_by_role("button", name="Choose topics").click()
    page.wait_for_url("**/subscribe/**")
    assert page.get_by_label("Email address").input_value() == "ada@example.org"
    assert page.get_by_label("Time zone").input_value() == "Asia/Tokyo"  # detected by the page's JS

    page.get_by_label("Your own topics, one per line").fill("diffusion")
    page.locator("#topic-preview").get_by_text("Today this would have found").wait_for()
    page.get_by_label("Weekly", exact=True).check()
    page.get_by_label("Weekly on").select_option("Friday")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()

    [message] = mailoutbox
    assert message.to == ["ada@example.org"]
    page.goto(emailed_path(live_server))
    page.get_by_role("button", name="Yes, send me papers").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    subscriber = Subscriber.objects.get()
    assert (subscriber.status, subscriber.time_zone, subscriber.weekday) == (
        "active",
        "Asia/Tokyo",
        4,
    )

    page.get_by_role("link", name="Open your preferences").click()
    page.get_by_role("heading", name="Your preferences").wait_for()
    page.get_by_label(topic.name).check()
    page.get_by_label("Your own topics, one per line").fill("diffusion\nauthor:Hinton")
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_text("Your preferences are saved.").wait_for()
    subscriber.refresh_from_db()
    assert list(subscriber.topics.all()) == [topic]
    assert subscriber.own_topics == "diffusion\nauthor:Hinton"

    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_text("You are unsubscribed: no more emails.").wait_for()
    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"
    assert page.errors == []  # no CSP violation or script error on the way
    assert os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] == "true"
