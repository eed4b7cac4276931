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


@pytest.mark.django_db
def test_it_throttles_admin_login_per_client_and_per_account(settings):
    from django.test import Client

    settings.ADMIN_LOGIN_RATE_PER_IP = 5
    settings.ADMIN_LOGIN_RATE_PER_ACCOUNT = 8
    User.objects.create_superuser("ada@example.org", "correct horse battery")
    guesser = Client(REMOTE_ADDR="203.0.113.5")
    codes = [
        guesser.post("/admin/login/", {"username": f"user{n}@x.org", "password": "x"}).status_code
        for n in range(7)
    ]
    assert codes == [200] * 5 + [429] * 2
    # Even the right password waits: the client is out of attempts.
    right = {"username": "ada@example.org", "password": "correct horse battery"}
    assert guesser.post("/admin/login/", right).status_code == 429
    # One account guessed from many addresses (a botnet) is held back too.
    codes = [
        Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        .post("/admin/login/", {"username": "ADA@example.org", "password": f"guess{n}"})
        .status_code
        for n in range(10)
    ]
    assert codes == [200] * 8 + [429] * 2
    # Another account from another client is not held back.
    other = Client(REMOTE_ADDR="192.0.2.9")
    assert other.post("/admin/login/", {"username": "b@x.org", "password": "x"}).status_code == 200
