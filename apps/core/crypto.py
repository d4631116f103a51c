"""Secrets at rest: hashes for tokens we only verify, Fernet for tokens we must send."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from apps.core.errors import DomainError


class SecretDecryptionError(DomainError):
    code = "SECRET_DECRYPTION_FAILED"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.OCPI_TOKEN_ENCRYPTION_KEYS))


def encrypt_secret(plain: str) -> str:
    """Encrypt with the first configured key; the result is ASCII text safe for a TextField."""
    return _current().encrypt(plain.encode()).decode("ascii")


def decrypt_secret(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode("ascii")).decode()
    except InvalidToken:
        raise SecretDecryptionError(
            "a stored secret cannot be decrypted with OCPI_TOKEN_ENCRYPTION_KEYS "
            "(was a key removed before re-encryption?)"
        ) from None


def hash_secret(plain: str) -> str:
    """SHA-256 hex digest. Our tokens are 256-bit random values, so no slow KDF is needed."""
    return hashlib.sha256(plain.encode()).hexdigest()


def secrets_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_token() -> str:
    """A fresh credentials token: 43 printable, non-whitespace ASCII characters."""
    return secrets.token_urlsafe(32)
