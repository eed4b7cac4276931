from __future__ import annotations

import pytest
from django.db import IntegrityError

from accounts.models import User


@pytest.mark.django_db
def test_staff_log_in_to_the_admin_with_their_email_in_any_case(client):
    User.objects.create_superuser("Ada@Example.org", "correct horse battery")
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "ADA@example.ORG", "password": "correct horse battery"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_a_wrong_password_does_not_log_in(client):
    User.objects.create_superuser("ada@example.org", "correct horse battery")
    response = client.post("/admin/login/", {"username": "ada@example.org", "password": "nope"})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_two_users_cannot_share_an_email_that_differs_only_in_case():
    User.objects.create_user("ada@example.org", "x")
    with pytest.raises(IntegrityError):
        User.objects.create_user("ADA@example.org", "y")
