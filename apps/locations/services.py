"""Writes to charging sites: Location → EVSE → Connector, and EVSE status history.

The upserts serve every source of location data: a partner's push (its copy, with the
connection it came through), a pull sync, and our own tools (``source_connection=None``). They
take canonical data keyed by the model field names (EVSEs under ``evses``, connectors under
``connectors``) and follow the same rules everywhere:

* A full write (``partial=False``) creates or replaces the object; fields left out take their
  defaults. A partial write changes only the fields present.
* An update strictly older than the stored ``last_updated`` is ignored (``Outcome.STALE``).
* A write to a Connector moves its EVSE's and Location's ``last_updated`` forward to the new
  value, a write to an EVSE its Location's (never backwards: a parent changed since keeps its
  newer time, so date-filtered syncs still see it).
* Status changes of an EVSE go through :func:`evse_status_set`, so the history is complete.
* Nothing is deleted that sessions or CDRs may reference. An EVSE that a full Location write no
  longer lists is set to ``REMOVED`` (what a CPO does to withdraw one); its row and history stay.
  A Connector that a full EVSE write no longer lists is deleted, unless a charging session still
  references it; then it is kept (and logged), since the session needs it.
* Everything happens in one transaction, with the Location row locked, so concurrent writes to
  one site are serialised.

Changes to our own parties' locations are announced (``LOCATION``; ``EVSE_STATUS`` when a write
only changed an EVSE's status); copies of partners' locations are not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Model, ProtectedError

from apps.core.errors import DomainError
from apps.core.events import ChangeKind, DomainChange, change_announce
from apps.core.upsert import Outcome, Upserted, is_stale
from apps.locations.enums import EvseStatus
from apps.locations.models import Connector, Evse, EvseStatusChange, Location
from apps.partners.models import PartnerConnection, Party

logger = logging.getLogger(__name__)

#: Fields a write may set (identity fields and children are handled separately).
LOCATION_FIELDS = (
    "visible_to_public", "visible_to_tokens", "name", "address", "city", "postal_code", "state",
    "country", "latitude", "longitude", "related_locations", "parking_type", "directions",
    "operator_details", "suboperator_details", "owner_details", "facilities", "time_zone",
    "opening_times", "charging_when_closed", "images", "energy_mix", "last_updated",
)  # fmt: skip
EVSE_FIELDS = (
    "evse_id", "status_schedule", "capabilities", "floor_level", "latitude", "longitude",
    "physical_reference", "directions", "parking_restrictions", "images", "last_updated",
)  # fmt: skip
CONNECTOR_FIELDS = (
    "standard", "format", "power_type", "max_voltage", "max_amperage", "max_electric_power",
    "tariff_ids", "terms_and_conditions", "last_updated",
)  # fmt: skip


class LocationObjectUnknown(DomainError):
    """The Location (or the EVSE / Connector below it) a write or read addresses does not exist."""

    code = "LOCATION_UNKNOWN"


# -- status ---------------------------------------------------------------------------------
def evse_status_set(
    *,
    evse: Evse,
    status: str,
    changed_at: datetime,
    source_connection: PartnerConnection | None = None,
    announce: bool = True,
) -> EvseStatusChange | None:
    """Set an EVSE's status and append the transition to its history.

    A report older than the EVSE's ``last_updated`` is ignored (out-of-order delivery), and so
    is a report that does not change the status. The Location's ``last_updated`` follows, and a
    change of one of our own EVSEs is announced (the outbox pushes it, coalesced per EVSE).
    Returns the history row, if one was written.
    """
    with transaction.atomic():
        locked = Evse.objects.select_for_update().get(pk=evse.pk)
        if locked.last_updated and changed_at < locked.last_updated:
            return None
        if locked.status == status:
            return None
        change = EvseStatusChange.objects.create(
            evse=locked,
            status=status,
            previous_status=locked.status or "",
            changed_at=changed_at,
            source_connection=source_connection,
        )
        Evse.objects.filter(pk=locked.pk).update(status=status, last_updated=changed_at)
        evse.status, evse.last_updated = status, changed_at
        # The parent changes with its child (spec 2.10), and a status of ours goes to partners
        # (the simulator, the admin and the demo change statuses through here).
        location = Location.objects.select_related("party").get(pk=locked.location_id)
        _advance(location, changed_at)
        if announce:  # the upserts below announce what they wrote themselves
            _announce(location.party, ChangeKind.EVSE_STATUS, locked.pk)
        return change


# -- upserts --------------------------------------------------------------------------------
def location_upsert(
    *,
    party: Party,
    location_id: str,
    data: Mapping[str, Any],
    source_connection: PartnerConnection | None,
    partial: bool = False,
) -> Upserted[Location]:
    """Create or replace (``partial``: update) the Location ``location_id`` of ``party``.

    ``data["evses"]``, when present, is the complete list of the site's EVSEs: listed ones are
    created or replaced (each EVSE older than the stored one is left as it is), unlisted ones are
    set to ``REMOVED``. Raises ``LocationObjectUnknown`` for a partial write to an unknown
    Location.
    """
    incoming = data["last_updated"]
    with transaction.atomic():
        location = _location_locked(party, location_id)
        if location is None:
            if partial:
                raise LocationObjectUnknown(f"location {location_id!r} is not known")
            location = Location(
                party=party,
                location_id=data.get("location_id") or location_id,
                source_connection=source_connection,
            )
            outcome = Outcome.CREATED
        elif is_stale(incoming, location.last_updated):
            return Upserted(Outcome.STALE, location)
        else:
            outcome = Outcome.UPDATED
            if source_connection is not None:
                location.source_connection = source_connection
        _assign(location, data, LOCATION_FIELDS)
        location.save()
        if data.get("evses") is not None:
            _evses_replace(location, data["evses"], incoming, source_connection)
        _announce(party, ChangeKind.LOCATION, location.pk)
        return Upserted(outcome, location)


def evse_upsert(
    *,
    party: Party,
    location_id: str,
    uid: str,
    data: Mapping[str, Any],
    source_connection: PartnerConnection | None,
    partial: bool = False,
) -> Upserted[Evse]:
    """Create or replace (``partial``: update) the EVSE ``uid`` of a Location of ``party``.

    ``data["connectors"]``, when present, is the EVSE's complete connector list. Moves the
    Location's ``last_updated`` forward. Raises ``LocationObjectUnknown`` when the Location is
    unknown, or for a partial write to an unknown EVSE.
    """
    incoming = data["last_updated"]
    with transaction.atomic():
        location = _location_locked(party, location_id)
        if location is None:
            raise LocationObjectUnknown(f"location {location_id!r} is not known")
        evse = location.evses.select_for_update().filter(uid__iexact=uid).first()
        if evse is None and partial:
            raise LocationObjectUnknown(f"EVSE {uid!r} of location {location_id!r} is not known")
        data = {"uid": uid, **data} if evse is None else data
        status_before = evse.status if evse is not None else None
        evse, outcome = _evse_write(location, evse, data, source_connection)
        if outcome is not Outcome.STALE:
            _advance(location, incoming)
            only_status = set(data) <= {"status", "last_updated", "uid"}
            if only_status and evse.status != status_before:
                _announce(party, ChangeKind.EVSE_STATUS, evse.pk)
            else:
                _announce(party, ChangeKind.LOCATION, location.pk)
        return Upserted(outcome, evse)


def connector_upsert(
    *,
    party: Party,
    location_id: str,
    evse_uid: str,
    connector_id: str,
    data: Mapping[str, Any],
    source_connection: PartnerConnection | None,
    partial: bool = False,
) -> Upserted[Connector]:
    """Create or replace (``partial``: update) a Connector of an EVSE of a Location of ``party``.

    Moves the EVSE's and the Location's ``last_updated`` forward. Raises
    ``LocationObjectUnknown`` when the Location or the EVSE is unknown, or for a partial write
    to an unknown Connector.
    """
    incoming = data["last_updated"]
    with transaction.atomic():
        location = _location_locked(party, location_id)
        if location is None:
            raise LocationObjectUnknown(f"location {location_id!r} is not known")
        evse = location.evses.select_for_update().filter(uid__iexact=evse_uid).first()
        if evse is None:
            raise LocationObjectUnknown(
                f"EVSE {evse_uid!r} of location {location_id!r} is not known"
            )
        connector = evse.connectors.filter(connector_id__iexact=connector_id).first()
        if connector is None:
            if partial:
                raise LocationObjectUnknown(
                    f"connector {connector_id!r} of EVSE {evse_uid!r} is not known"
                )
            connector = Connector(evse=evse, connector_id=data.get("connector_id") or connector_id)
            outcome = Outcome.CREATED
        elif is_stale(incoming, connector.last_updated):
            return Upserted(Outcome.STALE, connector)
        else:
            outcome = Outcome.UPDATED
        _assign(connector, data, CONNECTOR_FIELDS)
        connector.save()
        _advance(evse, incoming)
        _advance(location, incoming)
        _announce(party, ChangeKind.LOCATION, location.pk)
        return Upserted(outcome, connector)


# -- helpers --------------------------------------------------------------------------------
def _location_locked(party: Party, location_id: str) -> Location | None:
    return (
        Location.objects.select_for_update()
        .filter(party=party, location_id__iexact=location_id)
        .first()
    )


def _assign(obj: Model, data: Mapping[str, Any], fields: Iterable[str]) -> None:
    for name in fields:
        if name in data:
            setattr(obj, name, data[name])


def _advance(obj: Location | Evse, when: datetime) -> None:
    """A child changed at ``when``: the parent's ``last_updated`` moves forward to it."""
    if obj.last_updated is None or when > obj.last_updated:
        obj.last_updated = when
        type(obj).objects.filter(pk=obj.pk).update(last_updated=when)


def _announce(party: Party, kind: ChangeKind, object_id: int) -> None:
    if party.is_own:  # partners' copies are theirs to push, not ours
        change_announce(DomainChange(kind=kind, object_id=object_id))


def _evse_write(
    location: Location,
    evse: Evse | None,
    data: Mapping[str, Any],
    source_connection: PartnerConnection | None,
) -> tuple[Evse, Outcome]:
    """Write one EVSE (full when it is new or ``data`` has every field, else partial)."""
    incoming = data["last_updated"]
    if evse is None:
        evse = Evse(location=location, uid=data["uid"], status="")
        _assign(evse, data, EVSE_FIELDS)
        evse.save()
        # The first status is history too (previous status empty).
        evse_status_set(
            evse=evse,
            status=data["status"],
            changed_at=incoming,
            source_connection=source_connection,
            announce=False,
        )
        _connectors_replace(evse, data.get("connectors") or [])
        return evse, Outcome.CREATED
    if is_stale(incoming, evse.last_updated):
        return evse, Outcome.STALE
    if "status" in data:
        evse_status_set(
            evse=evse,
            status=data["status"],
            changed_at=incoming,
            source_connection=source_connection,
            announce=False,
        )
    _assign(evse, data, EVSE_FIELDS)
    evse.save()
    if data.get("connectors") is not None:
        _connectors_replace(evse, data["connectors"])
    return evse, Outcome.UPDATED


def _evses_replace(
    location: Location,
    evses: Iterable[Mapping[str, Any]],
    changed_at: datetime,
    source_connection: PartnerConnection | None,
) -> None:
    stored = {e.uid.casefold(): e for e in location.evses.select_for_update()}
    listed: set[str] = set()
    for data in evses:
        key = data["uid"].casefold()
        listed.add(key)
        _evse_write(location, stored.get(key), data, source_connection)
    for key, evse in stored.items():
        if key in listed or evse.status == EvseStatus.REMOVED:
            continue
        # Withdrawn by the CPO: REMOVED, like a PATCH would do; sessions and CDRs keep their EVSE.
        evse_status_set(
            evse=evse,
            status=EvseStatus.REMOVED,
            changed_at=max(changed_at, evse.last_updated),
            source_connection=source_connection,
        )


def _connectors_replace(evse: Evse, connectors: Iterable[Mapping[str, Any]]) -> None:
    stored = {c.connector_id.casefold(): c for c in evse.connectors.all()}
    for data in connectors:
        connector = stored.pop(data["connector_id"].casefold(), None) or Connector(
            evse=evse, connector_id=data["connector_id"]
        )
        _assign(connector, data, CONNECTOR_FIELDS)
        connector.save()
    for connector in stored.values():
        try:
            with transaction.atomic():
                connector.delete()
        except ProtectedError:
            logger.warning(
                "connector %s of EVSE %s is no longer listed but a session references it; kept",
                connector.connector_id,
                evse.uid,
            )
