from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from apps.core.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret
from apps.partners.services import connection_issue_token
from tests.factories import ConnectionFactory


@pytest.mark.django_db
def test_connection_tokens_are_never_stored_in_clear() -> None:
    connection = ConnectionFactory.create()
    connection.set_send_token("their-token-B")
    raw = connection_issue_token(connection=connection, registration=True)
    connection.refresh_from_db()
    stored = [str(getattr(connection, f.attname)) for f in connection._meta.concrete_fields]
    assert not any("their-token-B" in v or raw in v for v in stored)
    assert connection.send_token == "their-token-B"
    assert connection.issued_token_matches(raw)
    assert not connection.issued_token_matches(raw + "x")
    assert connection.issued_token_is_registration
    assert connection.issued_token_hint == raw[-4:]
    # Issuing a new token invalidates the previous one.
    newer = connection_issue_token(connection=connection, registration=False)
    assert not connection.issued_token_matches(raw)
    assert connection.issued_token_matches(newer)


def test_key_rotation_keeps_old_secrets_readable() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(OCPI_TOKEN_ENCRYPTION_KEYS=[old]):
        ciphertext = encrypt_secret("s3cret")
    with override_settings(OCPI_TOKEN_ENCRYPTION_KEYS=[new, old]):
        assert decrypt_secret(ciphertext) == "s3cret"
    with override_settings(OCPI_TOKEN_ENCRYPTION_KEYS=[new]), pytest.raises(SecretDecryptionError):
        decrypt_secret(ciphertext)
