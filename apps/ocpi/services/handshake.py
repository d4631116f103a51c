"""The credentials handshake in both directions, and what we tell partners about ourselves.

No database transaction is held open across a call to a partner: during a registration the
partner calls us back (with the token we just issued), so that token must be committed first.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.crypto import hash_secret, new_token
from apps.core.errors import DomainError
from apps.core.redaction import redact_text
from apps.core.services import Actor, audit_log_record
from apps.ocpi.adapters.base import Adapter, CredentialsInfo, EndpointInfo, PartyRole
from apps.ocpi.adapters.registry import get_adapter, supported_versions, version_key
from apps.ocpi.common.client import OcpiCallError, OcpiClient, OcpiTransportError
from apps.ocpi.common.errors import OcpiError, Unauthorized
from apps.ocpi.common.netguard import UnsafeUrlError, partner_url_check
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.versions import STANDARD_PROFILE
from apps.partners.enums import ConnectionStatus
from apps.partners.models import Partner, PartnerConnection, Party
from apps.partners.services import connection_issue_token, party_claim

logger = logging.getLogger(__name__)


class HandshakeError(DomainError):
    """A handshake step failed; ``ocpi_status`` is the OCPI code that describes it.

    ``message`` is for operators; ``public_message`` is what the partner is told (it never
    says what a host name resolves to or whether a port answered)."""

    code = "OCPI_HANDSHAKE_FAILED"

    def __init__(
        self,
        message: str,
        *,
        ocpi_status: int = OcpiStatus.CLIENT_API_UNUSABLE,
        public_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.ocpi_status = ocpi_status
        self.public_message = message if public_message is None else public_message


# -- who we are --------------------------------------------------------------------------------
def our_versions_url() -> str:
    return f"{settings.OCPI_BASE_URL}{reverse('ocpi:versions')}"


def our_roles() -> list[PartyRole]:
    roles = []
    for party in Party.objects.own().order_by("country_code", "party_id"):
        for role in party.roles or []:
            roles.append(
                PartyRole(
                    role=role,
                    country_code=party.country_code,
                    party_id=party.party_id,
                    name=party.name,
                    website=party.website,
                    logo=party.logo or None,
                )
            )
    return roles


def our_credentials(token: str) -> CredentialsInfo:
    return CredentialsInfo(token=token, url=our_versions_url(), roles=our_roles())


# -- talking to the partner --------------------------------------------------------------------
def _client(adapter: Adapter, token: str, connection: PartnerConnection | None) -> OcpiClient:
    return OcpiClient(token=token, raw_token=adapter.sends_raw_token, connection=connection)


def _fetch(
    adapter: Adapter, token: str, connection: PartnerConnection | None, url: str, what: str
) -> Any:
    try:
        with _client(adapter, token, connection) as client:
            response = client.get(url, module="versions")
            response.raise_for_status()
    except OcpiTransportError as exc:
        shown = redact_text(url)
        raise HandshakeError(
            f"cannot GET the partner's {what} at {shown}: {exc}",
            public_message=f"cannot GET the partner's {what} at {shown}: {exc.public_message}",
        ) from exc
    except OcpiCallError as exc:
        raise HandshakeError(f"cannot GET the partner's {what} at {url}: {exc}") from exc
    return response.data


def fetch_endpoints(
    *,
    versions_url: str,
    token: str,
    profile: str,
    version: str | None,
    connection: PartnerConnection | None,
) -> tuple[str, list[EndpointInfo]]:
    """GET the partner's versions and the details of ``version`` (or of the highest version we
    both speak). Raises ``HandshakeError`` with 3001 / 3002 / 3003 as the spec prescribes."""
    probe = get_adapter(profile, version or supported_versions()[0])
    try:
        offered = probe.parse_versions(_fetch(probe, token, connection, versions_url, "versions"))
    except OcpiError as exc:
        raise HandshakeError(f"the partner's version list is invalid: {exc.message}") from exc
    by_number = {v.version: v for v in offered}
    if version is not None:
        chosen = by_number.get(version)
        if chosen is None:
            raise HandshakeError(
                f"the partner does not offer OCPI {version} (it offers "
                f"{', '.join(sorted(by_number)) or 'nothing'})",
                ocpi_status=OcpiStatus.UNSUPPORTED_VERSION,
            )
    else:
        mutual = [v for v in supported_versions() if v in by_number]
        if not mutual:
            raise HandshakeError(
                f"no OCPI version in common (partner: {', '.join(sorted(by_number))}; "
                f"us: {', '.join(supported_versions())})",
                ocpi_status=OcpiStatus.UNSUPPORTED_VERSION,
            )
        chosen = by_number[max(mutual, key=version_key)]
    adapter = get_adapter(profile, chosen.version)
    try:
        endpoints = adapter.parse_version_details(
            _fetch(adapter, token, connection, chosen.url, "version details")
        )
    except OcpiError as exc:
        raise HandshakeError(f"the partner's version details are invalid: {exc.message}") from exc
    for endpoint in endpoints:
        try:
            partner_url_check(endpoint.url)
        except UnsafeUrlError as exc:
            shown = redact_text(endpoint.url)
            where = f"endpoint {endpoint.identifier} ({endpoint.role}) URL {shown!r}"
            raise HandshakeError(
                f"{where}: {exc}", public_message=f"{where}: {exc.public_message}"
            ) from exc
    missing = adapter.required_endpoints - {e.identifier for e in endpoints}
    if missing:
        raise HandshakeError(
            f"the partner lacks required endpoints: {', '.join(sorted(missing))}",
            ocpi_status=OcpiStatus.NO_MATCHING_ENDPOINTS,
        )
    return chosen.version, endpoints


def _store_peer(
    connection: PartnerConnection,
    *,
    credentials: CredentialsInfo,
    version: str,
    endpoints: Iterable[EndpointInfo],
) -> None:
    """Save what we learnt about the partner: token, URL, version, endpoints and parties."""
    own = {(p.country_code, p.party_id) for p in Party.objects.own()}
    parties = []
    for role in credentials.roles:
        if (role.country_code, role.party_id) in own:
            raise HandshakeError(
                f"the partner claims our own party {role.country_code}*{role.party_id}",
                ocpi_status=OcpiStatus.INVALID_PARAMETERS,
            )
    for (country, party_id), roles in _group_roles(credentials.roles).items():
        first = roles[0]
        party, _ = Party.objects.select_for_update().get_or_create(
            country_code=country,
            party_id=party_id,
            defaults={"partner": connection.partner, "name": first.name, "roles": []},
        )
        if party.partner_id != connection.partner_id and party.provisional:
            # Only a hub announced this party (HubClientInfo); its own credentials outrank that.
            party_claim(party=party, connection=connection, actor=f"partner:{connection}")
        elif party.partner_id != connection.partner_id:
            raise HandshakeError(
                f"party {country}*{party_id} belongs to another partner",
                ocpi_status=OcpiStatus.INVALID_PARAMETERS,
            )
        party.provisional = False  # confirmed by a credentials exchange
        party.roles = sorted({r.role for r in roles})
        party.name = first.name
        party.website = first.website
        party.logo = first.logo
        party.save()
        parties.append(party)
    connection.set_send_token(credentials.token)
    connection.versions_url = credentials.url
    connection.version = version
    connection.endpoints = [
        {"identifier": e.identifier, "role": e.role, "url": e.url} for e in endpoints
    ]
    connection.status = ConnectionStatus.CONNECTED
    connection.last_handshake_at = timezone.now()
    connection.last_error = ""
    connection.save()
    connection.represented_parties.set(parties)


def _group_roles(roles: Iterable[PartyRole]) -> dict[tuple[str, str], list[PartyRole]]:
    grouped: dict[tuple[str, str], list[PartyRole]] = {}
    for role in roles:
        grouped.setdefault((role.country_code, role.party_id), []).append(role)
    return grouped


def connection_record_error(*, connection: PartnerConnection, message: str) -> None:
    PartnerConnection.objects.filter(pk=connection.pk).update(
        last_error=redact_text(message)[:2000], last_error_at=timezone.now()
    )


# -- a partner registers with us (we are the credentials receiver) -------------------------------
def credentials_check_state(*, connection: PartnerConnection, update: bool) -> None:
    """405 for a POST by a registered partner, or a PUT by one that is not registered."""
    registered = connection.status == ConnectionStatus.CONNECTED
    if update and not registered:
        raise OcpiError("not registered: POST your credentials first", http_status=405)
    if not update and (registered or not connection.issued_token_is_registration):
        raise OcpiError("already registered: use PUT to update", http_status=405)


def credentials_accept(
    *, connection: PartnerConnection, credentials: CredentialsInfo, version: str, update: bool
) -> str:
    """Handle a partner's credentials POST (``update=False``) or PUT (``update=True``).

    Fetches the partner's versions and details with the token it gave us, stores everything and
    issues a new token for it, which is returned (raw, once) for the response.
    """
    credentials_check_state(connection=connection, update=update)
    try:
        chosen, endpoints = fetch_endpoints(
            versions_url=credentials.url,
            token=credentials.token,
            profile=connection.adapter_profile,
            version=version,
            connection=connection,
        )
        with transaction.atomic():
            if not update:
                _registration_token_spend(connection)
            _store_peer(connection, credentials=credentials, version=chosen, endpoints=endpoints)
            # A rotation the partner started (PUT): its requests still in flight with the old
            # token C succeed until the overlap ends.
            token_c = connection_issue_token(
                connection=connection,
                registration=False,
                keep_previous=update,
                actor=f"partner:{connection}",
            )
            audit_log_record(
                actor=f"partner:{connection}",
                action="connection.updated" if update else "connection.registered",
                obj=connection,
                after={"version": chosen, "endpoints": len(connection.endpoints)},
            )
    except HandshakeError as exc:
        connection_record_error(connection=connection, message=exc.message)
        raise OcpiError(exc.public_message, status_code=exc.ocpi_status) from exc
    return token_c


def _registration_token_spend(connection: PartnerConnection) -> None:
    """Use up token A, or raise 401 if a concurrent registration already did.

    Concurrent POSTs with one token A all pass authentication and fetch the partner's endpoints
    (no transaction may be open during those calls), so the token is spent here, first thing in
    the transaction that stores the registration: a conditional UPDATE on the token A we
    authenticated with. PostgreSQL makes a second UPDATE wait for the first transaction and then
    re-check the condition; SQLite runs these transactions one after the other (IMMEDIATE). Either
    way one request changes the row and the others find zero rows and roll back before storing
    anything.
    """
    spent = PartnerConnection.objects.filter(
        pk=connection.pk,
        issued_token_hash=connection.issued_token_hash,
        issued_token_is_registration=True,
    ).update(issued_token_hash=None, issued_token_is_registration=False, updated_at=timezone.now())
    if not spent:
        raise Unauthorized("this registration token (token A) has already been used")


def credentials_delete(*, connection: PartnerConnection) -> None:
    """The partner unregisters: its token stops working, ours is forgotten."""
    if connection.status != ConnectionStatus.CONNECTED:
        raise OcpiError("not registered", http_status=405)
    connection_unregistered(connection=connection, actor=f"partner:{connection}")


def connection_unregistered(*, connection: PartnerConnection, actor: Actor) -> None:
    with transaction.atomic():
        connection.status = ConnectionStatus.UNREGISTERED
        connection.issued_token_hash = None
        connection.pending_issued_token_hash = None
        connection.previous_issued_token_hash = None
        connection.previous_issued_token_until = None
        connection.send_token_encrypted = ""
        connection.save()
        audit_log_record(actor=actor, action="connection.unregistered", obj=connection)


# -- we register with a partner (we are the credentials sender) ----------------------------------
def connection_invite(
    *, partner: Partner, name: str = "", profile: str = STANDARD_PROFILE, actor: Actor = None
) -> tuple[PartnerConnection, str]:
    """Create a pending connection and a registration token (token A) to hand to the partner."""
    get_adapter(profile, supported_versions()[0])  # refuses unknown profiles
    connection = PartnerConnection.objects.create(
        partner=partner,
        name=name or _default_name("invitation"),
        adapter_profile=profile,
        status=ConnectionStatus.PENDING,
    )
    token_a = connection_issue_token(
        connection=connection,
        registration=True,
        valid_for=timedelta(days=settings.OCPI_REGISTRATION_TOKEN_DAYS),
        actor=actor,
    )
    return connection, token_a


def connection_register(
    *,
    partner: Partner,
    versions_url: str,
    token_a: str,
    name: str = "",
    profile: str = STANDARD_PROFILE,
    actor: Actor = None,
    steps: list[str] | None = None,
) -> PartnerConnection:
    """Register with a partner that gave us its versions URL and a token A.

    ``steps`` (if given) collects a line per step for the operator. Raises ``HandshakeError``.
    """
    log = steps if steps is not None else []
    version, endpoints = fetch_endpoints(
        versions_url=versions_url, token=token_a, profile=profile, version=None, connection=None
    )
    log.append(f"versions fetched; chose OCPI {version} with {len(endpoints)} endpoints")
    adapter = get_adapter(profile, version)
    credentials_url = _endpoint(endpoints, "credentials")
    connection = PartnerConnection.objects.create(
        partner=partner,
        name=name or _default_name("registration"),
        adapter_profile=profile,
        status=ConnectionStatus.PENDING,
        versions_url=versions_url,
        version=version,
    )
    token_b = new_token()
    connection.set_issued_token(token_b, registration=False)
    connection.save()  # committed before the POST: the partner calls us back with token B
    log.append("token B issued")
    try:
        theirs = _post_credentials(
            adapter, connection, url=credentials_url, token=token_a, ours=our_credentials(token_b),
            method="POST",
        )  # fmt: skip
        log.append(f"credentials POSTed; partner answered with {len(theirs.roles)} role(s)")
        with transaction.atomic():
            _store_peer(connection, credentials=theirs, version=version, endpoints=endpoints)
            # The versions URL we must use is the one the partner named, if it named one.
            audit_log_record(
                actor=actor,
                action="connection.registered_with_partner",
                obj=connection,
                after={"version": version, "endpoints": len(endpoints)},
            )
    except HandshakeError as exc:
        connection.issued_token_hash = None  # token B is worthless now
        connection.last_error = redact_text(exc.message)[:2000]
        connection.last_error_at = timezone.now()
        connection.save()
        log.append(f"failed: {exc.message}")
        raise
    log.append("registered: token C stored, token B active")
    return connection


def connection_rotate(*, connection: PartnerConnection, actor: Actor = None) -> PartnerConnection:
    """Renew credentials with a registered partner (also announces changed endpoints).

    Our new token B is accepted together with the old one until the partner has confirmed.
    """
    if connection.status != ConnectionStatus.CONNECTED or not connection.send_token:
        raise HandshakeError("only a registered connection can rotate its credentials")
    token = connection.send_token
    version, endpoints = fetch_endpoints(
        versions_url=connection.versions_url,
        token=token,
        profile=connection.adapter_profile,
        version=connection.version or None,
        connection=connection,
    )
    adapter = get_adapter(connection.adapter_profile, version)
    new_b = new_token()
    connection.pending_issued_token_hash = hash_secret(new_b)
    connection.save(update_fields=["pending_issued_token_hash", "updated_at"])
    try:
        theirs = _post_credentials(
            adapter, connection, url=_endpoint(endpoints, "credentials"), token=token,
            ours=our_credentials(new_b), method="PUT",
        )  # fmt: skip
    except HandshakeError as exc:
        PartnerConnection.objects.filter(pk=connection.pk).update(pending_issued_token_hash=None)
        connection.pending_issued_token_hash = None
        connection_record_error(connection=connection, message=exc.message)
        raise
    with transaction.atomic():
        _store_peer(connection, credentials=theirs, version=version, endpoints=endpoints)
        connection.set_issued_token(new_b, registration=False, keep_previous=True)
        connection.save()
        audit_log_record(actor=actor, action="connection.rotated", obj=connection)
    return connection


def connection_unregister(*, connection: PartnerConnection, actor: Actor = None) -> None:
    """Unregister from a partner: DELETE on its credentials endpoint, then forget the tokens."""
    token = connection.send_token
    url = connection.endpoint_url("credentials", "SENDER") or _endpoint_any(connection)
    if token and url:
        adapter = get_adapter(connection.adapter_profile, connection.version)
        try:
            with _client(adapter, token, connection) as client:
                client.delete(url, module="credentials").raise_for_status()
        except (OcpiTransportError, OcpiCallError) as exc:
            connection_record_error(connection=connection, message=str(exc))
            raise HandshakeError(f"the partner did not accept the DELETE: {exc}") from exc
    connection_unregistered(connection=connection, actor=actor)


def _default_name(kind: str) -> str:
    """A label unique per partner even for several connections made in the same second."""
    return f"{kind} {timezone.now():%Y-%m-%d %H:%M} {uuid.uuid4().hex[:6]}"


def _endpoint(endpoints: Iterable[EndpointInfo], identifier: str) -> str:
    for endpoint in endpoints:
        if endpoint.identifier == identifier:
            return endpoint.url
    raise HandshakeError(
        f"the partner has no {identifier} endpoint", ocpi_status=OcpiStatus.NO_MATCHING_ENDPOINTS
    )


def _endpoint_any(connection: PartnerConnection) -> str | None:
    for endpoint in connection.endpoints or []:
        if endpoint.get("identifier") == "credentials":
            return str(endpoint.get("url"))
    return None


def _post_credentials(
    adapter: Adapter,
    connection: PartnerConnection,
    *,
    url: str,
    token: str,
    ours: CredentialsInfo,
    method: str,
) -> CredentialsInfo:
    try:
        with _client(adapter, token, connection) as client:
            response = client.request(
                method, url, json=adapter.render_credentials(ours), module="credentials"
            )
            response.raise_for_status()
    except (OcpiTransportError, OcpiCallError) as exc:
        raise HandshakeError(f"credentials {method} to {url} failed: {exc}") from exc
    try:
        return adapter.parse_credentials(response.data)
    except OcpiError as exc:
        raise HandshakeError(f"the partner answered invalid credentials: {exc.message}") from exc
