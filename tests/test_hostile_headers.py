"""Production settings, security headers, CSRF coverage and hostile feed text on pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts import tokens
from tests.support.pages import make_papers, make_subscriber

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k8Vq2-" + "production-secret-that-is-long-and-random-enough-1234567890",
    "SITE_URL": "https://papers.example.org",
    "ALLOWED_HOSTS": "papers.example.org",
}
SECURITY_SETTINGS = [
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS",
]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_under(**env: str) -> dict:
    code = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {SECURITY_SETTINGS!r}}}))"
    )
    result = manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_passes_check_deploy_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_it_derives_secure_cookies_hsts_and_the_https_redirect_from_an_https_site_url():
    production = settings_under(**PRODUCTION)
    assert production == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
    }
    # An empty variable, as .env.example lists it, follows SITE_URL rather than turning off.
    assert settings_under(**PRODUCTION, SECURE_SSL_REDIRECT="", CSRF_COOKIE_SECURE="") == production
    local = settings_under(SITE_URL="http://127.0.0.1:8000")
    assert not local["SECURE_SSL_REDIRECT"] and not local["SESSION_COOKIE_SECURE"]
    assert local["SECURE_HSTS_SECONDS"] == 0


class Markup(HTMLParser):
    """Collects what a strict CSP would block: inline script, event handlers, inline style."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        self.problems += [
            f"{tag} {name}=" for name in names if name.startswith("on") or name == "style"
        ]
        for name, value in attrs:
            if (
                name in ("href", "src", "action")
                and value
                and value.strip().lower().startswith(("javascript:", "data:"))
            ):
                self.problems.append(f"{tag} {name}={value}")


def pages(db) -> dict[str, str]:
    subscriber = make_subscriber()
    make_papers(3)
    return {
        "/": "",
        "/subscribe/": "",
        "/manage/": "",
        "/papers/2026-08-20/": "",
        f"/unsubscribe/{tokens.subscriber_token('unsubscribe', subscriber)}/": "token",
        f"/manage/sign-in/{tokens.subscriber_token('login', subscriber)}/": "token",
        "/confirm/forged/": "token",
        "/manage/sign-in/": "",  # the button page the sign-in link redirects to
        "/admin/login/": "",
    }


@pytest.mark.django_db
def test_it_sends_a_strict_csp_and_the_security_headers_on_every_page(client):
    for url, kind in pages(None).items():
        response = client.get(url)
        assert response.status_code in (200, 302, 400), url
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, url
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "object-src 'none'" in policy and "base-uri 'none'" in policy
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        expected = "no-referrer" if kind == "token" else "same-origin"
        assert response["Referrer-Policy"] == expected, url
        if kind == "token":
            assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_has_no_inline_script_style_or_event_handler_that_the_csp_would_block(client):
    for url in pages(None):
        parser = Markup()
        parser.feed(client.get(url, follow=True).content.decode())
        assert parser.problems == [], url


@pytest.mark.django_db
def test_it_shows_no_script_event_handler_or_javascript_link_from_feed_fields(client):
    make_papers(
        1,
        title='<script>alert("title")</script>Evil <img src=x onerror=alert(1)>',
        abstract='<iframe src="https://evil.example"></iframe><style>body{display:none}</style>ok',
        authors=["<svg onload=alert(2)>", "Mallory"],
        abs_url="javascript:alert(3)",
        pdf_url="data:text/html;base64,PHNjcmlwdD5hbGVydCg0KTwvc2NyaXB0Pg==",
        code_url=" JavaScript:alert(5)",
    )
    html = client.get("/").content.decode()
    parser = Markup()
    parser.feed(html)
    assert parser.problems == []
    for needle in (
        "<script>alert",
        "<img src=x",
        "<iframe",
        "<style>",
        "<svg",
        "javascript:",
        "data:text",
    ):
        assert needle.lower() not in html.lower(), needle
    assert "&lt;script&gt;alert" in html  # shown as text, not run


def exempt_views(resolver: URLResolver, prefix: str = "") -> list[tuple[str, str]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            found += exempt_views(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and getattr(entry.callback, "csrf_exempt", False):
            found.append((prefix + str(entry.pattern), entry.callback.__module__))
    return found


def test_it_exempts_only_the_token_pages_that_post_from_no_referrer_and_the_webhooks_from_csrf():
    exempt = exempt_views(get_resolver())
    assert sorted(pattern for pattern, _ in exempt) == [
        "feedback/<str:token>/",
        "unsubscribe/<str:token>/",
        "webhooks/anymail/<str:provider>/tracking/",
    ], exempt


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/subscribe/", "/manage/", "/manage/preferences/", "/manage/delete/", "/confirm/x/"]
)
def test_it_refuses_a_form_post_without_a_csrf_token(url):
    assert Client(enforce_csrf_checks=True).post(url, {"email": "a@example.org"}).status_code == 403


@pytest.mark.django_db
def test_it_sends_no_store_on_every_token_and_manage_page(client):
    reader = make_subscriber()
    session = client.session
    session["subscriber_id"] = reader.pk
    session.save()
    urls = [
        "/manage/",
        "/manage/sent/",
        "/manage/preferences/",
        "/manage/preview/",
        "/manage/my-data.json",
        "/manage/delete/",
        "/manage/sign-in/",
        "/confirm/",
        f"/confirm/{tokens.make_token('confirm', reader.pk)}/",
        f"/unsubscribe/{tokens.make_token('unsubscribe', reader.pk)}/",
        f"/feedback/{tokens.make_token('feedback', reader.pk, d=1, p=1, v=1)}/",
        f"/digests/{tokens.make_token('webview', reader.pk, d=1)}/",
    ]
    for url in urls:
        response = client.get(url)
        assert "no-store" in response.get("Cache-Control", ""), url
