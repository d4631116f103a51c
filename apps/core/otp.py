"""The admin's optional second factor: a TOTP code (django-otp) next to the password.

A user with a confirmed TOTP device (admin: *Otp_Totp -> TOTP devices*, its QR code for the
authenticator app) logs in only with that device's current code; a user without one logs in
with the password alone unless ``ADMIN_REQUIRE_2FA`` is on. The check sits in the authentication
backend, so a missing or wrong code is a failed login like a wrong password: the login form
answers the same way (no hint that the password was right) and django-axes counts it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django_otp import devices_for_user

#: The login form's field for the code (templates/admin/login.html).
OTP_FIELD = "otp_token"


class PasswordAndTotpBackend(ModelBackend):
    """Django's username/password check, then the TOTP code when the user has a device."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            return None
        code = request.POST.get(OTP_FIELD, "").strip().replace(" ", "") if request else ""
        with transaction.atomic():
            devices = list(devices_for_user(user, confirmed=True, for_verify=True))
            if not devices:
                return None if settings.ADMIN_REQUIRE_2FA else user
            if not code:
                return None
            for device in devices:  # each device throttles its own failures
                if device.verify_token(code):
                    # django-otp's login signal stores it in the session (request.user.is_verified)
                    user.otp_device = device  # type: ignore[attr-defined]
                    return user
        return None
