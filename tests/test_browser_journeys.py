"""Every button a person presses, pressed in Debian's Chromium against a production-like
Paperwire (DEBUG off, a real secret, SITE_URL set: CSRF, CSP and Referrer-Policy as in
production), from the links in the emails the site actually wrote, with the database
checked after each press.

One web process and one browser serve the module; each test has its own browser
context. Screenshots go to var/screenshots/ (kept out of git) for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from playwright.sync_api import expect

from accounts.models import Subscriber, User
from digest.models import Digest, Feedback, Suppression, Topic
from tests.support import browser as support
from tests.support.browser import html_of, link_in, text_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not support.CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt install chromium)",
    ),
]

# The checkout's var/, not the run's own VAR_DIR that `dev.py test` removes at the end.
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
READER = "ada.lovelace@example.org"


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker, tmp_path_factory):
    site = support.start(tmp_path_factory.mktemp("site"))
    yield site
    site.stop()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the tests' own ORM reads
    # are plain blocking calls and safe here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(support.CHROMIUM), args=support.CHROMIUM_ARGS, headless=True
            )
            yield browser
            browser.close()
            # Close, where they were opened, the connections the tests' flushes left (on
            # PostgreSQL an open one would keep the test database from being dropped).
            connections.close_all()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        connections.close_all()


@pytest.fixture
def demo(transactional_db, site):
    """The demo a new installation shows: three real days, catalogue, three subscribers."""
    site.forget_mail()
    call_command("demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    yield
    # ORM calls inside Playwright's loop opened connections of their own: close them here.
    connections.close_all()


class Tab:
    """A browser tab that records what would betray a broken page: any answer of 400 or
    more, and any console error (a CSP violation is one)."""

    def __init__(self, context, site):
        self.site = site
        self.page = context.new_page()
        self.failures: list[str] = []
        self.page.on("console", self._console)
        self.page.on("response", self._response)

    def _console(self, message) -> None:
        if message.type == "error":
            self.failures.append(f"console: {message.text} ({message.location.get('url')})")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.failures.append(f"{response.status} {response.request.method} {response.url}")

    def go(self, url: str):
        return self.page.goto(url if url.startswith("http") else self.site.url + url)

    def press(self, name: str, **options) -> None:
        self.page.get_by_role("button", name=name, **options).click()

    def heading(self, name: str) -> None:
        self.page.get_by_role("heading", name=name).wait_for()

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SHOTS / f"{name}.png", full_page=True)

    def no_sideways_scroll(self) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.page.viewport_size["width"], (self.page.url, width)


@pytest.fixture
def tab(chromium, site, demo):
    context = chromium.new_context(timezone_id="Asia/Tokyo", locale="en-GB", viewport=DESKTOP)
    context.set_default_timeout(15_000)
    tab = Tab(context, site)
    yield tab
    tab.page.wait_for_load_state("networkidle")  # the live preview may still be answering
    context.close()


def phone_and_desktop(chromium, site, url: str, name: str) -> None:
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = chromium.new_context(viewport=viewport, device_scale_factor=1)
        tab = Tab(context, site)
        tab.go(url)
        tab.shot(f"{name}-{size}")
        tab.no_sideways_scroll()
        assert tab.failures == []
        context.close()


def subscriber() -> Subscriber:
    return Subscriber.objects.get(email=READER)


def test_the_papers_pages_on_a_phone_and_a_desktop(chromium, site, demo):
    phone_and_desktop(chromium, site, "/", "home")
    yesterday = dt.date.today() - dt.timedelta(days=1)
    phone_and_desktop(chromium, site, f"/papers/{yesterday:%Y-%m-%d}/", "day")
    context = chromium.new_context(viewport=PHONE)
    tab = Tab(context, site)
    tab.go(f"/papers/{yesterday:%Y-%m-%d}/")
    titles = tab.page.locator("li.paper h2 a")
    assert titles.count() == 20  # a page of a 26-paper day
    hrefs = [titles.nth(n).get_attribute("href") for n in range(titles.count())]
    assert all(href.startswith("https://arxiv.org/abs/") for href in hrefs)
    tab.page.get_by_role("link", name="More papers").click()
    # click() returns before the next page has loaded: expect() waits for it, count() not.
    expect(tab.page.locator("li.paper")).to_have_count(6)
    assert tab.failures == []
    context.close()


def test_a_readers_whole_journey_from_signup_to_deleting_their_data(chromium, site, tab):
    page = tab.page
    # Signup: from the papers page's box to the form, with a mistake first.
    tab.go("/")
    page.get_by_label("Email address").fill(READER)
    tab.press("Choose topics")
    page.wait_for_url("**/subscribe/**")
    assert page.get_by_label("Email address").input_value() == READER
    assert page.get_by_label("Time zone").input_value() == "Asia/Tokyo"  # from the browser
    catalogue = page.locator("input[name=topics]")
    catalogue.first.check()
    first_topic = Topic.objects.get(pk=catalogue.first.get_attribute("value"))
    page.get_by_label("Your own topics, one per line").fill('agents\n"language model')
    page.locator("#topic-preview").get_by_text("Line 2").wait_for()  # the live preview
    page.get_by_label("Most papers per email").fill("26")
    tab.press("Subscribe")
    summary = page.locator("#error-summary")
    # Focus comes from autofocus or the deferred script, after the summary shows: wait.
    expect(summary).to_be_focused()
    assert page.evaluate("window.scrollY") < summary.bounding_box()["y"] + 1
    assert "At most 25 (Gmail cuts a longer email short)" in summary.inner_text()
    assert catalogue.first.is_checked()  # what was typed is kept
    assert page.get_by_label("Email address").input_value() == READER
    tab.shot("subscribe-errors-desktop")
    page.set_viewport_size(PHONE)
    tab.shot("subscribe-errors-phone")
    tab.no_sideways_scroll()
    page.set_viewport_size(DESKTOP)
    summary.get_by_role("link", name=re.compile("Your own topics")).click()
    expect(page).to_have_url(re.compile("#id_own_topics$"))
    page.get_by_label("Your own topics, one per line").fill('agents\n"language model"')
    page.get_by_label("Most papers per email").fill("10")
    tab.press("Subscribe")
    tab.heading("Check your inbox")
    assert "saved under" in page.locator("#local-mail").inner_text()
    person = subscriber()
    assert (person.status, person.time_zone) == ("pending", "Asia/Tokyo")
    assert list(person.topics.all()) == [first_topic]

    # Confirm, from the link in the email the site wrote.
    confirmation = site.last_mail(READER)
    tab.go(link_in(confirmation, "/confirm/"))
    assert READER in page.locator("main").inner_text()
    assert first_topic.name in page.locator("main").inner_text()
    assert Subscriber.objects.get(pk=person.pk).status == "pending"  # opening changes nothing
    tab.press("Yes, send me papers")
    tab.heading("You are subscribed")
    assert subscriber().status == "active"

    # The first digest, sent the way an operator sends one by hand.
    assert "1 sent" in site.manage("send_digests", "--now", "--email", READER)
    digest = Digest.objects.get(subscriber=person)
    assert digest.status == "sent" and digest.items.count() >= 2
    mail = site.last_mail(READER)
    email_html = html_of(mail)
    email_shots(chromium, email_html)
    items = list(digest.items.select_related("paper").order_by("rank"))
    text = text_of(mail)
    for item in items:
        assert f"Read: https://arxiv.org/abs/{item.paper.arxiv_id}" in text
    more_links = re.findall(r"More like this: (\S+)", text)
    less_links = re.findall(r"Less like this: (\S+)", text)

    # "More like this", then "Changed your mind?", then "Less like this" on another paper.
    tab.go(more_links[0])
    assert Feedback.objects.count() == 0  # a mail scanner's GET records nothing
    tab.press("More like this")
    tab.heading("Thank you")
    assert Feedback.objects.get(paper=items[0].paper).value == 1
    page.get_by_role("link", name="Less like this").click()
    tab.press("Less like this")
    tab.heading("Thank you")
    assert Feedback.objects.get(paper=items[0].paper).value == -1
    tab.go(less_links[1])
    tab.press("Less like this")
    tab.heading("Thank you")
    assert Feedback.objects.get(paper=items[1].paper).value == -1

    # The web view: the same email, highlights and all.
    tab.go(link_in(mail, "/digests/"))
    shown = page.content()
    for item in items:
        assert item.paper.title.split(":")[0] in shown
    assert marks(shown) == marks(email_html)

    # "Manage your topics" from the digest: no second email. Confirming signed this
    # browser in, so it goes straight there; signed out (or elsewhere), one press.
    manage = link_in(mail, "/manage/open/")
    tab.go(manage)
    tab.heading("Your preferences")
    tab.press("Sign out")
    page.wait_for_url(f"{site.url}/")
    tab.go(manage)
    assert page.url == f"{site.url}/manage/open/"  # the token is out of the address bar
    tab.press("Open my preferences")
    tab.heading("Your preferences")
    tab.shot("preferences-desktop")
    page.set_viewport_size(PHONE)
    tab.shot("preferences-phone")
    tab.no_sideways_scroll()
    page.set_viewport_size(DESKTOP)
    catalogue.nth(1).check()
    second_topic = Topic.objects.get(pk=catalogue.nth(1).get_attribute("value"))
    page.get_by_label("Weekly", exact=True).check()
    page.get_by_label("Weekly on").select_option("Friday")
    page.get_by_label("Delivery hour").select_option("09:00")
    tab.press("Save preferences")
    page.get_by_text("Your preferences are saved.").wait_for()
    person = subscriber()
    assert (person.frequency, person.weekday, person.send_hour) == ("weekly", 4, 9)
    assert set(person.topics.all()) == {first_topic, second_topic}
    tab.press("Pause emails")
    page.get_by_text("Paused: no emails until you resume.").wait_for()
    assert subscriber().status == "paused"
    tab.press("Resume emails")
    page.get_by_text("Resumed.").wait_for()
    assert subscriber().status == "active" and subscriber().next_send_at is not None
    page.get_by_role("link", name="Preview today's email").click()
    page.get_by_text(re.compile("new papers? for you|Nothing new matches your topics")).wait_for()
    tab.go("/manage/preferences/")
    tab.press("Unsubscribe")
    page.get_by_text("You are unsubscribed: no more emails.").wait_for()
    assert subscriber().status == "unsubscribed"
    tab.press("Resubscribe")
    page.get_by_text("Welcome back: your emails start again.").wait_for()
    assert subscriber().status == "active"
    # The digest's link may be in a forwarded email: it never hands out the data.
    assert page.get_by_role("link", name="Download my data (JSON)").count() == 0
    page.get_by_role("link", name="sign in with a link we email to your address").click()
    tab.heading("Manage your subscription")

    # Unsubscribe from the digest's link; opened again, it says so and offers to come back.
    unsubscribe = link_in(mail, "/unsubscribe/")
    tab.go(unsubscribe)
    tab.press("Unsubscribe")
    tab.heading("You are unsubscribed")
    assert subscriber().status == "unsubscribed"
    tab.go(unsubscribe)
    page.get_by_text("You unsubscribed earlier").wait_for()
    tab.press("Resubscribe")
    # A forwarded digest carries this link: resubscribing asks the mailbox first.
    tab.heading("Check your inbox")
    assert subscriber().status == "unsubscribed"
    tab.go(link_in(site.last_mail(READER), "/manage/sign-in/"))
    tab.press("Resubscribe")
    page.get_by_text("Welcome back: your emails start again.").wait_for()
    assert subscriber().status == "active"

    # /manage/: the sign-in link opens in the browser that asked for it, with no button.
    tab.go("/manage/")
    page.get_by_label("Email address").fill(READER)
    tab.press("Email me a sign-in link")
    tab.heading("Check your inbox")
    nonce = subscriber().token_nonce
    tab.go(link_in(site.last_mail(READER), "/manage/sign-in/"))
    tab.heading("Your preferences")
    assert subscriber().token_nonce == nonce + 1  # the link is spent
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (JSON)").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert data["email"] == READER and len(data["feedback"]) == 2
    page.get_by_role("link", name="Delete my data").click()
    tab.press("Delete everything")
    tab.heading("Your data is deleted")
    assert not Subscriber.objects.filter(email=READER).exists()

    # The old digest's unsubscribe link still answers, for a person and a mail program.
    tab.go(unsubscribe)
    tab.heading("You are unsubscribed")
    one_click = page.request.post(unsubscribe, form={"List-Unsubscribe": "One-Click"})
    assert one_click.status == 200
    assert tab.failures == []


def marks(html: str) -> list[str]:
    return re.findall(r"<mark[^>]*>([^<]*)</mark>", html)


def email_shots(chromium, html: str) -> None:
    """The digest as a mail program shows it: wide and phone, light and dark."""
    for scheme in ("light", "dark"):
        for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context = chromium.new_context(viewport=viewport, color_scheme=scheme)
            page = context.new_page()
            page.set_content(html)
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / f"digest-email-{size}-{scheme}.png", full_page=True)
            if size == "phone":
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], f"the email scrolls sideways ({scheme})"
            context.close()


def test_an_operators_day_in_the_admin(chromium, site, tab):
    page = tab.page
    User.objects.create_superuser("operator@example.org", password="a long passphrase 42")
    Suppression.objects.create(email="bounced@example.org", reason="bounced")
    Subscriber.objects.create(email="bounced@example.org", status="suppressed")

    tab.go("/admin/")
    page.get_by_label("Email address").fill("operator@example.org")
    page.get_by_label("Password").fill("a long passphrase 42")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Deliverability", exact=False).wait_for()
    tab.shot("admin-dashboard-desktop")
    page.set_viewport_size(PHONE)
    tab.shot("admin-dashboard-phone")
    tab.no_sideways_scroll()
    page.set_viewport_size(DESKTOP)

    # A topic: preview the query as typed, then add it.
    tab.go("/admin/digest/topic/add/")
    page.get_by_label("Name").fill("Robot learning")
    page.get_by_label("Query").fill("robot*, embodied")
    tab.press("Preview the query as typed")
    page.locator("#pw-topic-preview").get_by_text("this query finds").wait_for()
    assert int(page.locator(".pw-match-count").inner_text()) > 0
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("was added successfully").wait_for()
    assert Topic.objects.get(name="Robot learning").query == "robot*, embodied"

    # A test digest of a demo subscriber, mailed to the operator and recorded nowhere.
    tab.go("/admin/accounts/subscriber/")
    page.set_viewport_size(PHONE)
    tab.no_sideways_scroll()
    page.get_by_role("link", name="ada@example.com").click()
    page.get_by_role("heading", name="Record").wait_for()
    tab.shot("admin-subscriber-phone")
    tab.no_sideways_scroll()
    page.set_viewport_size(DESKTOP)
    tab.go("/admin/accounts/subscriber/")
    page.get_by_role("checkbox", name="Select this object for an action - ada@example.com").check()
    page.locator("select[name=action]").select_option(label="Send me a test digest now")
    page.get_by_role("button", name="Go").click()
    page.locator(".messagelist").wait_for()
    test_mail = site.last_mail("operator@example.org")
    assert "new paper" in str(test_mail["Subject"])
    assert not Digest.objects.filter(subscriber__email="ada@example.com").exists()

    # Lift a suppression, after its confirmation page.
    tab.go("/admin/digest/suppression/")
    page.get_by_role("checkbox", name=re.compile("for an action - bounced@example.org")).check()
    page.locator("select[name=action]").select_option(label="Lift selected suppressions…")
    page.get_by_role("button", name="Go").click()
    page.locator("#pw-warning").wait_for()
    assert Suppression.objects.filter(email="bounced@example.org").exists()
    page.get_by_role("button", name=re.compile("^Yes, lift")).click()
    page.locator(".messagelist").wait_for()
    assert not Suppression.objects.filter(email="bounced@example.org").exists()
    assert tab.failures == []
