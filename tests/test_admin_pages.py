"""Every admin page renders, only staff reach them, and changelists cost a fixed
number of queries whatever their length."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from tests.support import admin_rows

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)
IDS = [model._meta.label for model in REGISTERED]


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("operator@example.org")
    client.force_login(user)
    return user


def test_every_model_the_admin_needs_is_registered():
    labels = set(IDS)
    assert {
        "accounts.User",
        "accounts.Subscriber",
        "digest.Topic",
        "digest.Source",
        "digest.SourceRun",
        "digest.Paper",
        "digest.Digest",
        "digest.EmailEvent",
        "digest.Suppression",
    } <= labels
    assert set(admin_rows.MAKERS) >= set(REGISTERED)


@pytest.mark.django_db
@pytest.mark.parametrize("model", REGISTERED, ids=IDS)
def test_the_changelist_change_and_add_pages_render_for(model, client, operator):
    admin_rows.add_rows(model, 2)
    obj = model.objects.order_by("pk").last()
    model_admin = admin.site._registry[model]

    assert client.get(url(model, "changelist")).status_code == 200
    assert client.get(url(model, "changelist"), {"q": "example"}).status_code == 200
    page = client.get(url(model, "change", obj.pk))
    assert page.status_code == 200
    request = page.wsgi_request
    expected_add = 200 if model_admin.has_add_permission(request) else 403
    assert client.get(url(model, "add")).status_code == expected_add


@pytest.mark.django_db
@pytest.mark.parametrize("model", REGISTERED, ids=IDS)
def test_the_changelist_costs_the_same_queries_for_1_or_50_rows(model, client, operator):
    admin_rows.add_rows(model, 1)
    client.get(url(model, "changelist"))  # warm caches (content types, sessions)

    with CaptureQueriesContext(connection) as one_row:
        assert client.get(url(model, "changelist")).status_code == 200
    admin_rows.add_rows(model, 49)
    with CaptureQueriesContext(connection) as fifty_rows:
        response = client.get(url(model, "changelist"))
    assert response.status_code == 200
    assert len(fifty_rows) == len(one_row), "\n".join(q["sql"] for q in fifty_rows.captured_queries)


def test_big_tables_never_count_their_full_length():
    from digest.admin.paging import LargeTablePaginator

    for name in ("paper", "digest", "emailevent", "subscriber", "feedback"):
        model_admin = next(a for m, a in admin.site._registry.items() if m._meta.model_name == name)
        assert model_admin.show_full_result_count is False, name
        assert model_admin.paginator is LargeTablePaginator, name


ADMIN_PAGES = [
    "/admin/",
    "/admin/accounts/subscriber/",
    "/admin/digest/topic/",
    "/admin/digest/topic/preview/?query=distillation",
    "/admin/digest/source/",
    "/admin/digest/suppression/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_logged_in_user_who_is_not_staff_is_kept_out(client, path):
    client.force_login(User.objects.create_user("reader@example.org"))
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_a_subscriber_preview_is_kept_from_non_staff(client):
    person = admin_rows.subscriber()
    client.force_login(User.objects.create_user("reader@example.org"))
    for path in (
        f"/admin/accounts/subscriber/{person.pk}/preview/",
        f"/admin/accounts/subscriber/{person.pk}/preview/email.html",
    ):
        assert client.get(path).status_code == 302
    assert client.post(f"/admin/accounts/subscriber/{person.pk}/preview/").status_code == 302


@pytest.mark.django_db
def test_staff_without_permissions_see_no_model_and_cannot_run_actions(client):
    staff = User.objects.create_user("staff@example.org", is_staff=True)
    client.force_login(staff)
    person = admin_rows.subscriber()
    assert client.get("/admin/accounts/subscriber/").status_code == 403
    response = client.post(
        "/admin/accounts/subscriber/",
        {"action": "pause", "_selected_action": [person.pk]},
    )
    assert response.status_code == 403
    person.refresh_from_db()
    assert person.status == "active"


@pytest.mark.django_db
def test_actions_need_a_csrf_token(operator):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    person = admin_rows.subscriber()
    response = strict.post(
        "/admin/accounts/subscriber/", {"action": "pause", "_selected_action": [person.pk]}
    )
    assert response.status_code == 403
    person.refresh_from_db()
    assert person.status == "active"


@pytest.mark.django_db
def test_an_unfiltered_big_table_is_numbered_from_the_planners_estimate(monkeypatch):
    from digest.admin import paging as admin_paging
    from digest.models import EmailEvent

    for _ in range(3):
        admin_rows.email_event()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE digest_emailevent")
    monkeypatch.setattr(admin_paging, "ESTIMATE_ABOVE", 2)
    everything = admin_paging.LargeTablePaginator(EmailEvent.objects.order_by("pk"), 100)
    bounced = admin_paging.LargeTablePaginator(
        EmailEvent.objects.filter(event_type="bounced").order_by("pk"), 100
    )
    with CaptureQueriesContext(connection) as queries:
        assert everything.count == 3
        assert bounced.count == 3
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    # PostgreSQL keeps an estimate, so only the filtered list is counted; SQLite counts both.
    assert len(counts) == (1 if connection.vendor == "postgresql" else 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/admin/digest/topic/preview/?query=distillation&topic=abc",
        "/admin/digest/topic/preview/?topic=99999",
        "/admin/accounts/subscriber/abc/preview/",
        "/admin/accounts/subscriber/99999/preview/email.html",
    ],
)
def test_a_bad_id_in_an_admin_url_is_answered_not_crashed(client, operator, path):
    assert client.get(path).status_code in (200, 404)


@pytest.mark.django_db
def test_staff_without_the_subscriber_view_permission_see_no_address(client):
    from django.contrib.auth.models import Permission

    failed = admin_rows.digest(status="failed", error="provider said no")
    sent = admin_rows.digest()
    paper = sent.items.get().paper
    staff = User.objects.create_user("staff@example.org", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_paper"))
    client.force_login(staff)
    pages = [client.get("/admin/"), client.get(url(type(paper), "change", paper.pk))]
    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        assert failed.subscriber.email not in text and sent.subscriber.email not in text
    # Given the permission, the same pages name them.
    staff.user_permissions.add(Permission.objects.get(codename="view_subscriber"))
    client.force_login(User.objects.get(pk=staff.pk))
    assert failed.subscriber.email in client.get("/admin/").content.decode()
    paper_page = client.get(url(type(paper), "change", paper.pk)).content.decode()
    assert sent.subscriber.email in paper_page
