from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.crypto import new_token
from apps.core.errors import DomainError
from apps.core.services import Actor, audit_log_record, model_snapshot
from apps.core.upsert import Outcome, Upserted, is_stale
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection, Party


def party_ensure_own_default(*, using: str = "default") -> Party | None:
    """Create our own party from OCPI_COUNTRY_CODE / OCPI_PARTY_ID / OCPI_ROLES if we have none.

    Returns the created party, or None when an own party already existed.
    """
    with transaction.atomic(using=using):
        if Party.objects.using(using).own().exists():
            return None
        party = Party(
            country_code=settings.OCPI_COUNTRY_CODE,
            party_id=settings.OCPI_PARTY_ID,
            roles=list(settings.OCPI_ROLES),
            name=settings.OCPI_BUSINESS_NAME,
        )
        party.save(using=using)
        return party


def connection_issue_token(
    *,
    connection: PartnerConnection,
    registration: bool,
    valid_for: timedelta | None = None,
    keep_previous: bool = False,
    actor: Actor = None,
) -> str:
    """Issue a new token the partner must use to call us (token A for registration, else C).

    The raw token is returned once and never stored. The previous one stops working, or, with
    ``keep_previous`` (a rotation), after OCPI_TOKEN_ROTATION_OVERLAP_SECONDS. ``valid_for``
    limits how long it may be used (registration tokens expire).
    """
    raw = new_token()
    expires_at = timezone.now() + valid_for if valid_for is not None else None
    with transaction.atomic():
        before = model_snapshot(connection, fields=["issued_token_hint", "status"])
        connection.set_issued_token(
            raw, registration=registration, expires_at=expires_at, keep_previous=keep_previous
        )
        connection.save()
        audit_log_record(
            actor=actor,
            action="connection.token_issued",
            obj=connection,
            before=before,
            after=model_snapshot(connection, fields=["issued_token_hint", "status"]),
        )
    return raw


def connection_suspend(*, connection: PartnerConnection, actor: Actor = None) -> PartnerConnection:
    """Stop a connected partner for now: its calls are refused until the connection is resumed.

    Tokens, version and endpoints are kept, so resuming needs no new handshake.
    Raises ``DomainError`` unless the connection is connected.
    """
    return _connection_switch(
        connection=connection,
        source=ConnectionStatus.CONNECTED,
        target=ConnectionStatus.SUSPENDED,
        action="connection.suspended",
        actor=actor,
    )


def connection_resume(*, connection: PartnerConnection, actor: Actor = None) -> PartnerConnection:
    """Let a suspended partner in again. Raises ``DomainError`` unless it is suspended."""
    return _connection_switch(
        connection=connection,
        source=ConnectionStatus.SUSPENDED,
        target=ConnectionStatus.CONNECTED,
        action="connection.resumed",
        actor=actor,
    )


def _connection_switch(
    *,
    connection: PartnerConnection,
    source: ConnectionStatus,
    target: ConnectionStatus,
    action: str,
    actor: Actor,
) -> PartnerConnection:
    with transaction.atomic():
        # A conditional UPDATE: of two concurrent requests only one finds the expected status.
        switched = PartnerConnection.objects.filter(pk=connection.pk, status=source).update(
            status=target, updated_at=timezone.now()
        )
        if not switched:
            current = (
                PartnerConnection.objects.filter(pk=connection.pk)
                .values_list("status", flat=True)
                .first()
            )
            shown = ConnectionStatus(current).label.lower() if current else "deleted"
            raise DomainError(
                f"the connection is {shown}, not {source.label.lower()}",
                code="CONNECTION_STATUS",
            )
        connection.refresh_from_db(fields=["status", "updated_at"])
        if target == ConnectionStatus.CONNECTED:
            _announce_deliverable(connection)
        audit_log_record(
            actor=actor,
            action=action,
            obj=connection,
            before={"status": source.value},
            after={"status": target.value},
        )
    return connection


def connection_outbound_set_paused(
    *, connection: PartnerConnection, paused: bool, actor: Actor = None
) -> PartnerConnection:
    """Hold (or release) our pushes to a partner; held changes queue up in the outbox."""
    with transaction.atomic():
        changed = PartnerConnection.objects.filter(
            pk=connection.pk, outbound_paused=not paused
        ).update(outbound_paused=paused)
        if not changed:
            raise DomainError(
                "pushes to this partner are already paused"
                if paused
                else "pushes to this partner are not paused"
            )
        connection.outbound_paused = paused
        if not paused:
            _announce_deliverable(connection)
        audit_log_record(
            actor=actor,
            action="connection.outbound_paused" if paused else "connection.outbound_resumed",
            obj=connection,
            before={"outbound_paused": not paused},
            after={"outbound_paused": paused},
        )
    return connection


def _announce_deliverable(connection: PartnerConnection) -> None:
    """After commit: tell whoever holds pushes for this connection that it takes them again."""
    from apps.partners.signals import connection_deliverable

    connection_id = connection.pk
    transaction.on_commit(
        lambda: connection_deliverable.send(sender=PartnerConnection, connection_id=connection_id)
    )


def party_reachability_record(
    *,
    connection: PartnerConnection,
    country_code: str,
    party_id: str,
    role: str,
    status: str,
    last_updated: datetime,
) -> Upserted[Party]:
    """Record what a hub says about a party's connection state (HubClientInfo).

    A hub reports only on parties it represents. A party we do not know yet is created under
    the hub's partner, *provisionally*: the hub connection may speak for it (that is how a hub
    tells us whom it routes for), but the hub has only said so, the party never exchanged
    credentials with us. The first credentials exchange that lists the party claims it (see the
    handshake), so a hub cannot squat a party code ahead of the party's own registration.

    Refused with ``DomainError``, changing nothing: our own parties (code ``PARTY_OWN``), and a
    known party the hub neither represents nor provisionally holds for its partner
    (``PARTY_NOT_REPRESENTED``, e.g. a party registered with us directly). A report older than
    the one we hold is ignored.
    """
    code = f"{country_code.upper()}*{party_id.upper()}"
    with transaction.atomic():
        party = (
            Party.objects.select_for_update()
            .filter(country_code__iexact=country_code, party_id__iexact=party_id)
            .first()
        )
        created = party is None
        if party is None:
            party = Party(
                partner=connection.partner,
                country_code=country_code,
                party_id=party_id,
                roles=[role],
                name=code,
                provisional=True,
            )
        elif party.is_own:
            raise DomainError(
                f"party {code} is one of our own: a hub cannot report on it", code="PARTY_OWN"
            )
        elif not _hub_reports_on(connection, party):
            raise DomainError(
                f"party {code} is not one this hub represents", code="PARTY_NOT_REPRESENTED"
            )
        elif is_stale(last_updated, party.reachability_updated):
            return Upserted(Outcome.STALE, party)
        if party.partner_id == connection.partner_id and role not in (party.roles or []):
            party.roles = [*(party.roles or []), role]
        before = None if created else model_snapshot(party, fields=_REACHABILITY_FIELDS)
        party.reachability = status
        party.reachability_updated = last_updated
        party.reachability_via = connection
        party.save()
        if party.partner_id == connection.partner_id:
            connection.represented_parties.add(party)
        audit_log_record(
            actor=None,
            action="party.reachability",
            obj=party,
            before=before,
            after=model_snapshot(party, fields=_REACHABILITY_FIELDS),
        )
    return Upserted(Outcome.CREATED if created else Outcome.UPDATED, party)


_REACHABILITY_FIELDS = ["roles", "reachability", "reachability_updated"]


def _hub_reports_on(connection: PartnerConnection, party: Party) -> bool:
    # A provisional party of the hub's partner counts even when this connection no longer lists
    # it: a credentials update of the hub resets its represented parties to its credentials roles.
    return (party.provisional and party.partner_id == connection.partner_id) or (
        connection.represented_parties.filter(pk=party.pk).exists()
    )


def party_claim(*, party: Party, connection: PartnerConnection, actor: Actor = None) -> Party:
    """Hand a provisional party (one a hub announced) to the partner whose credentials list it.

    The party's own credentials exchange outranks a hub's word: the party moves to the
    registering partner, no connection of another partner speaks for it any more, and the
    reachability the hub reported (which described the route through that hub) is cleared.
    Raises ``DomainError`` unless the party is provisional. Call it inside the handshake's
    transaction.
    """
    if not party.provisional:
        raise DomainError(f"party {party.code} is not provisional", code="PARTY_NOT_PROVISIONAL")
    before = model_snapshot(party, fields=_CLAIM_FIELDS)
    party.partner = connection.partner
    party.provisional = False
    party.reachability = ""
    party.reachability_updated = None
    party.reachability_via = None
    party.save()
    PartnerConnection.represented_parties.through.objects.filter(party=party).exclude(
        partnerconnection__partner=connection.partner
    ).delete()
    audit_log_record(
        actor=actor,
        action="party.claimed",
        obj=party,
        before=before,
        after=model_snapshot(party, fields=_CLAIM_FIELDS),
    )
    return party


_CLAIM_FIELDS = ["partner", "provisional", "reachability", "reachability_via"]
