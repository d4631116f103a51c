"""`ensure_admin` prints a login that works and passes the password validators."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


def _ensure_admin() -> str:
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    match = re.search(r"admin login:\s+admin / (\S+)", out.getvalue())
    assert match, out.getvalue()
    return match.group(1)


def _logs_in(password: str) -> bool:
    response = Client().post(
        "/admin/login/?next=/admin/", {"username": "admin", "password": password}
    )
    return response.status_code == 302 and response["Location"] == "/admin/"


@pytest.fixture(autouse=True)
def _no_kept_password() -> None:
    (Path(settings.VAR_DIR) / "admin-password").unlink(missing_ok=True)


def test_the_generated_login_passes_the_validators_and_logs_in() -> None:
    password = _ensure_admin()
    user = get_user_model().objects.get(username="admin")
    validate_password(password, user)
    assert _logs_in(password)
    assert _ensure_admin() == password  # kept across runs


def test_a_kept_weak_password_is_replaced() -> None:
    # A checkout from before the validators: the kept password and the login are "a".
    get_user_model().objects.create_superuser(username="admin", password="a")
    (Path(settings.VAR_DIR) / "admin-password").write_text("a\n")
    password = _ensure_admin()
    assert password != "a"
    validate_password(password, get_user_model().objects.get(username="admin"))
    assert _logs_in(password)
    assert not _logs_in("a")
