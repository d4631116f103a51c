"""Pull sync of the functional modules: what :mod:`apps.ocpi.services.sync` crawls, and how.

Every pulled object is stored by the **same canonical service, with the same arguments, as an
inbound push of it** (the module's Receiver view), so an object is the same whichever way it
arrived; a copy older than the one we hold is ignored by that service's ``last_updated`` rule.

* We are the eMSP: Locations (``location_upsert``, as a PUT of the whole Location), Tariffs
  (``tariff_receive``), Sessions (``session_upsert``, as a PUT) and CDRs (``cdr_receive``:
  idempotent, pricing-checked on arrival as on a POST).
* We are the CPO: Tokens (``token_upsert``, as a PUT).

The owner of every object must be a party the connection represents (checked by the crawler
with ``owner``). A domain refusal (e.g. a CDR we hold with other content) counts the object as
invalid, the rest of the page is stored.
"""

from __future__ import annotations

from typing import Any

from apps.cdrs.services import CdrContent, cdr_receive
from apps.charging_sessions.services import session_upsert
from apps.core.errors import DomainError
from apps.core.upsert import Outcome, Upserted
from apps.locations.services import location_upsert
from apps.ocpi.services.sync import SyncKind, sync_kind_register
from apps.partners.enums import Role
from apps.partners.models import PartnerConnection, Party
from apps.tariffs.services import TariffData, tariff_receive
from apps.tokens.services import TokenData, token_upsert


def _party(owner: Party | None) -> Party:
    if owner is None:  # the crawler resolves the owner of every kind registered here
        raise DomainError("the object's owner is not resolved")
    return owner


# -- eMSP: the CPO's objects ---------------------------------------------------------------------
def location_store(
    connection: PartnerConnection, owner: Party | None, data: dict[str, Any]
) -> Upserted[Any]:
    """A pulled Location, as a PUT of the whole Location (its EVSEs and connectors)."""
    return location_upsert(
        party=_party(owner),
        location_id=data["location_id"],
        data=data,
        source_connection=connection,
    )


def tariff_store(
    connection: PartnerConnection, owner: Party | None, data: TariffData
) -> Upserted[Any]:
    """A pulled Tariff: a new received version unless the content is unchanged."""
    return tariff_receive(
        party=_party(owner),
        tariff_id=data.tariff_id,
        content=data.content,
        source_connection=connection,
    )


def session_store(
    connection: PartnerConnection, owner: Party | None, session: Any
) -> Upserted[Any]:
    """A pulled Session (``ListedSession``: the data with its id), as a PUT of it."""
    return session_upsert(
        party=_party(owner),
        session_id=session.session_id,
        data=session.data,
        source_connection=connection,
    )


def cdr_store(
    connection: PartnerConnection, owner: Party | None, content: CdrContent
) -> Upserted[Any]:
    """A pulled CDR: stored final and pricing-checked when new; one we hold is left as it is,
    and one that differs from it is refused (a CDR never changes; corrections are credit
    CDRs), as a POST of it would be."""
    receipt = cdr_receive(
        party=_party(owner),
        content=content,
        source_connection=connection,
        protocol_version=connection.version,
    )
    if receipt.differences:
        raise DomainError(
            f"CDR {receipt.cdr.party.code}*{receipt.cdr.cdr_id} is already stored and differs in "
            f"{', '.join(receipt.differences)}; a CDR cannot be changed",
            code="CDR_CHANGED",
        )
    # Held already with this content: nothing written (as for a copy older than ours).
    return Upserted(Outcome.CREATED if receipt.created else Outcome.STALE, receipt.cdr)


# -- CPO: the eMSP's tokens ----------------------------------------------------------------------
def token_store(
    connection: PartnerConnection, owner: Party | None, data: TokenData
) -> Upserted[Any]:
    """A pulled Token, as a PUT of it."""
    return token_upsert(party=_party(owner), data=data, source_connection=connection)


sync_kind_register(
    SyncKind(
        "locations",
        "location",
        Role.EMSP,
        store=location_store,
        owner=lambda data: (data["country_code"], data["party_id"]),
    )
)
sync_kind_register(
    SyncKind(
        "tariffs",
        "tariff",
        Role.EMSP,
        store=tariff_store,
        owner=lambda data: (data.country_code, data.party_id),
    )
)
sync_kind_register(
    SyncKind(
        "sessions",
        "listed_session",
        Role.EMSP,
        store=session_store,
        owner=lambda session: (session.country_code, session.party_id),
        date_from_required=True,  # spec 7.2.1
    )
)
sync_kind_register(
    SyncKind(
        "cdrs",
        "cdr",
        Role.EMSP,
        store=cdr_store,
        owner=lambda content: (content.country_code, content.party_id),
    )
)
sync_kind_register(
    SyncKind(
        "tokens",
        "token",
        Role.CPO,
        store=token_store,
        owner=lambda data: (data.country_code, data.party_id),
    )
)
