"""The admin's optional second factor: a user with a confirmed TOTP device logs in only with its
current code; without a device the password is enough unless ADMIN_REQUIRE_2FA is on."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct horse battery staple"


def _user(name: str = "operator") -> User:
    return get_user_model().objects.create_superuser(username=name, password=PASSWORD)


def _code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return str(value).zfill(device.digits)


def _login(client: Client, user: User, **extra: str):
    return client.post(LOGIN, {"username": user.username, "password": PASSWORD, **extra})


def _logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_the_login_form_asks_for_the_code() -> None:
    page = Client().get(LOGIN).content.decode()
    assert 'name="otp_token"' in page
    assert 'autocomplete="one-time-code"' in page


def test_a_user_with_a_confirmed_device_needs_its_current_code() -> None:
    user = _user()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()

    refused = _login(client, user)  # the password alone
    assert refused.status_code == 200
    assert "Please enter the correct username and password" in refused.content.decode()
    assert "_auth_user_id" not in client.session

    wrong = str((int(_code(device)) + 1) % 10**6).zfill(6)
    assert not _logged_in(_login(client, user, otp_token=wrong))
    assert "_auth_user_id" not in client.session

    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    code = _code(device)
    accepted = _login(client, user, otp_token=code)
    assert _logged_in(accepted)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id  # a verified session
    assert client.get("/admin/").status_code == 200

    # A code is good once: the same code again is refused.
    assert not _logged_in(_login(Client(), user, otp_token=code))


def test_without_a_confirmed_device_the_password_is_enough() -> None:
    user = _user()
    TOTPDevice.objects.create(user=user, name="half set up", confirmed=False)
    assert _logged_in(_login(Client(), user))


def test_required_2fa_refuses_a_user_without_a_device(settings) -> None:
    settings.ADMIN_REQUIRE_2FA = True
    plain = _user("plain")
    assert not _logged_in(_login(Client(), plain))
    secured = _user("secured")
    device = TOTPDevice.objects.create(user=secured, name="phone", confirmed=True)
    assert _logged_in(_login(Client(), secured, otp_token=_code(device)))


def test_wrong_codes_count_towards_the_lockout(settings) -> None:
    user = _user()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), user, otp_token="000000")
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    assert _login(Client(), user, otp_token=_code(device)).status_code == 429


def test_an_admin_sets_up_a_device_for_a_user_and_gets_its_qr_code(staff_client: Client) -> None:
    user = _user()
    response = staff_client.post(
        reverse("admin:otp_totp_totpdevice_add"),
        {
            "user": user.pk,
            "name": "operator's phone",
            "confirmed": "on",
            "key": "3132333435363738393031323334353637383930",
            "step": 30,
            "t0": 0,
            "digits": 6,
            "tolerance": 1,
            "drift": 0,
            "throttling_failure_count": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    device = TOTPDevice.objects.get(user=user)
    config = staff_client.get(reverse("admin:otp_totp_totpdevice_config", args=[device.pk]))
    assert config.status_code == 200
    qr = staff_client.get(reverse("admin:otp_totp_totpdevice_qrcode", args=[device.pk]))
    assert qr.status_code == 200
    assert qr["Content-Type"] == "image/svg+xml"
    assert b"<svg" in qr.content
    assert _logged_in(_login(Client(), user, otp_token=_code(device)))
