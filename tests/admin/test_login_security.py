"""The admin login: brute force is locked out per username and source, an admin can unlock, and
passwords must pass Django's validators. OCPI (token auth) is not touched by any of it."""

from __future__ import annotations

import base64

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from apps.core.security import client_ip
from apps.partners.enums import ConnectionStatus
from apps.partners.services import connection_issue_token
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct horse battery staple"


def _limit() -> int:
    """The configured failure limit (Django's own settings have none: then as the README's)."""
    return int(getattr(settings, "AXES_FAILURE_LIMIT", 5))


@pytest.fixture
def operator() -> None:
    get_user_model().objects.create_superuser(username="operator", password=PASSWORD)


def _login(client: Client, password: str, *, ip: str = "203.0.113.7", username: str = "operator"):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, follow=False
    )


def _logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


@pytest.mark.usefixtures("operator")
def test_repeated_wrong_passwords_lock_the_user_out_from_that_source() -> None:
    attacker = Client()
    for _ in range(60):  # as the probe did
        response = _login(attacker, "guess")
        assert response.status_code in (200, 429)  # the form again, then the lockout
        assert not _logged_in(response)
    # The right password no longer opens the admin from there.
    response = _login(attacker, PASSWORD)
    assert response.status_code == 429
    assert not _logged_in(response)
    assert "_auth_user_id" not in attacker.session
    # The same user from another source, and another user from the same source, are not locked.
    assert _logged_in(_login(Client(), PASSWORD, ip="198.51.100.20"))
    get_user_model().objects.create_superuser(username="second", password=PASSWORD)
    assert _logged_in(_login(Client(), PASSWORD, username="second"))


@pytest.mark.usefixtures("operator")
def test_an_admin_unlocks_a_locked_out_user() -> None:
    for _ in range(_limit()):
        _login(Client(), "guess")
    assert _login(Client(), PASSWORD).status_code == 429

    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.get(username="operator")
    admin = get_user_model().objects.create_superuser(username="unlocker", password=PASSWORD)
    staff = Client()
    staff.force_login(admin)  # force_login does not authenticate: unaffected by the lockout
    changelist = reverse("admin:axes_accessattempt_changelist")
    page = staff.get(changelist, {"locked_out": "yes"})
    assert page.status_code == 200
    assert "operator" in page.content.decode()
    response = staff.post(
        changelist, {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="operator").exists()

    assert _logged_in(_login(Client(), PASSWORD))


@pytest.mark.usefixtures("operator")
def test_a_success_below_the_limit_resets_the_count() -> None:
    client = Client()
    for _ in range(_limit() - 1):
        _login(client, "guess")
    assert _logged_in(_login(client, PASSWORD))
    client.logout()
    for _ in range(_limit() - 1):
        _login(client, "guess")
    assert _logged_in(_login(client, PASSWORD))
    client.logout()
    # Counted afresh since the success: the limit reached now locks.
    for _ in range(_limit()):
        _login(client, "guess")
    assert _login(client, PASSWORD).status_code == 429


@pytest.mark.usefixtures("operator")
def test_ocpi_calls_from_a_locked_out_source_are_served() -> None:
    for _ in range(_limit() + 1):
        _login(Client(), "guess")
    assert _login(Client(), PASSWORD).status_code == 429
    connection = ConnectionFactory.create(status=ConnectionStatus.CONNECTED)
    token = connection_issue_token(connection=connection, registration=False)
    header = "Token " + base64.b64encode(token.encode()).decode()
    response = Client().get(
        "/ocpi/versions", headers={"Authorization": header}, REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000


def test_the_source_behind_trusted_proxies_is_the_address_our_outermost_proxy_saw(
    rf, settings
) -> None:
    forged = "10.9.9.9, 203.0.113.7, 192.0.2.1"  # client-chosen, client, inner proxy
    request = rf.get("/", REMOTE_ADDR="192.0.2.2", HTTP_X_FORWARDED_FOR=forged)
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "192.0.2.2"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "203.0.113.7"
    direct = rf.get("/", REMOTE_ADDR="203.0.113.9")
    assert client_ip(direct) == "203.0.113.9"


def test_password_validators_refuse_weak_passwords() -> None:
    user = get_user_model()(username="operator")
    for weak in ("a", "password123", "12345678901234", "operator2026!"):
        with pytest.raises(ValidationError):
            validate_password(weak, user)
    validate_password(PASSWORD, user)


def test_the_admin_refuses_a_weak_password_for_a_new_user(staff_client: Client) -> None:
    response = staff_client.post(
        reverse("admin:auth_user_add"),
        {"username": "newbie", "password1": "a", "password2": "a", "usable_password": "true"},
    )
    assert response.status_code == 200  # the form again, with the validators' messages
    assert "This password is too short" in response.content.decode()
    assert not get_user_model().objects.filter(username="newbie").exists()
