from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand


def _acceptable(password: str, user: User | None) -> bool:
    """Whether the password passes AUTH_PASSWORD_VALIDATORS (a kept one from before the
    validators were on may not)."""
    try:
        validate_password(password, user)
    except ValidationError:
        return False
    return True


def _new_password(user: User | None) -> str:
    while True:  # a random 24-character password passes at the first try in practice
        password = secrets.token_urlsafe(18)
        if _acceptable(password, user):
            return password


class Command(BaseCommand):
    help = (
        "Make sure an admin login exists for the local portal and print it. The password is "
        "generated once and kept in var/admin-password (readable by the owner only)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        password_file = Path(settings.VAR_DIR) / "admin-password"
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        password = password_file.read_text().strip() if password_file.exists() else ""
        if not password or not _acceptable(password, user):
            password = ""
        if user is None or not password or not user.check_password(password):
            password = password or _new_password(user)
            if user is None:
                user = user_model.objects.create_superuser(username=username, password=password)
            else:
                user.set_password(password)
                user.is_active = user.is_staff = user.is_superuser = True
                user.save()
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        self.stdout.write(f"    admin login:     {username} / {password}")
