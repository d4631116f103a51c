"""Credentials-token authentication of inbound OCPI calls.

``Authorization: Token <base64(token)>`` (2.2.1). Connections whose adapter profile allows it may
also send the token un-encoded. Registration tokens (token A) only open the versions and
credentials endpoints, and only until they expire.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from apps.core.crypto import hash_secret
from apps.ocpi.adapters.registry import UnknownAdapter, get_adapter, supported_versions
from apps.ocpi.common.errors import Unauthorized
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection

logger = logging.getLogger(__name__)

_HEADER = re.compile(r"Token\s+(?P<token>\S+)\s*", re.IGNORECASE)
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,64}")


def extract_token(request: HttpRequest) -> str:
    """The raw text after ``Token`` in the Authorization header (not yet decoded)."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized("the Authorization header is missing")
    match = _HEADER.fullmatch(header.strip())
    if not match:
        raise Unauthorized("the Authorization header must read 'Token <base64 of the token>'")
    return match["token"]


def _decode(value: str) -> str | None:
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    return decoded if _PRINTABLE.fullmatch(decoded) else None


def _find(token: str) -> PartnerConnection | None:
    digest = hash_secret(token)
    replaced_lately = Q(previous_issued_token_hash=digest) & Q(
        previous_issued_token_until__gt=timezone.now()
    )
    return (
        PartnerConnection.objects.select_related("partner")
        .filter(Q(issued_token_hash=digest) | Q(pending_issued_token_hash=digest) | replaced_lately)
        .first()
    )


def authenticate(
    request: HttpRequest, *, version: str, allow_registration_token: bool
) -> tuple[PartnerConnection, str]:
    """Return the calling connection and the (decoded) token it used, or raise 401."""
    presented = extract_token(request)
    decoded = _decode(presented)
    connection = _find(decoded) if decoded is not None else None
    token = decoded
    if connection is None:
        connection = _find(presented)
        token = presented
        if connection is not None:
            try:
                adapter = get_adapter(
                    connection.adapter_profile,
                    connection.version or version or supported_versions()[0],
                )
            except UnknownAdapter:
                adapter = None
            if adapter is None or not adapter.accepts_raw_token:
                logger.info("connection %s sent an un-encoded token", connection.pk)
                raise Unauthorized("the credentials token must be Base64-encoded")
    if connection is None or token is None:
        raise Unauthorized("unknown credentials token")
    if connection.status in (ConnectionStatus.UNREGISTERED, ConnectionStatus.SUSPENDED):
        raise Unauthorized(f"this connection is {connection.get_status_display().lower()}")
    if connection.issued_token_is_registration:
        if connection.issued_token_expired:
            raise Unauthorized("the registration token has expired")
        if not allow_registration_token:
            raise Unauthorized("a registration token (token A) only opens versions and credentials")
    return connection, token
