"""The outbox: every change a partner should see is pushed to it reliably.

Recording: domain services announce changes (apps.core.events) inside their transaction; the
listener here records one OutboundDelivery per subscribed connection in that same transaction,
and asks for a worker once it commits.

Sending: a worker claims due deliveries (SELECT ... FOR UPDATE SKIP LOCKED, then a conditional
UPDATE, so two workers never send the same row), renders the object's current state with the
connection's adapter, sends it, and classifies the outcome:

* delivered: HTTP 2xx with OCPI 1xxx;
* permanent failure (dead at once): OCPI 2xxx, HTTP 4xx other than 429, an unsafe URL;
* transient failure (retried with exponential backoff and jitter, honouring Retry-After):
  timeouts, connection errors, HTTP 5xx, 429, OCPI 3xxx/4xxx, unusable answers.

Short waits go back to the broker; long waits stay in the database and the periodic sweep
re-enqueues them. A worker that dies mid-send leaves a lease that expires; the sweep then makes
the row pending again (acks_late also redelivers the task).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.dispatch import receiver
from django.utils import timezone

from apps.cdrs.enums import CdrOrigin, CdrStatus
from apps.cdrs.models import Cdr
from apps.charging_sessions.models import ChargingSession
from apps.core.events import ChangeKind, DomainChange, change_listener
from apps.core.redaction import redact_text
from apps.core.scheduling import enqueue_once, job_started
from apps.core.services import Actor, audit_log_record
from apps.locations.models import Evse, Location
from apps.locations.selectors import locations_with_children
from apps.ocpi.adapters.base import Adapter
from apps.ocpi.adapters.registry import UnknownAdapter, get_adapter
from apps.ocpi.common.client import OcpiClient, OcpiResponse, OcpiTransportError, RoutingHeaders
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.models import DeliveryStatus, OutboundDelivery
from apps.partners.enums import ConnectionStatus, Role
from apps.partners.models import PartnerConnection, Party
from apps.partners.signals import connection_deliverable
from apps.tariffs.models import Tariff, TariffVersion
from apps.tokens.models import Token

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = (ConnectionStatus.CONNECTED, ConnectionStatus.SUSPENDED)
CLAIM_LOST = "CLAIM_LOST"

#: Worker lanes (see ``DeliveryKind.lane``); each has its own Celery queue (settings).
BULK = "bulk"
REALTIME = "realtime"


# -- what is pushed where ----------------------------------------------------------------------
class DeliveryKind(Protocol):
    """How one kind of change is pushed: to whom, and with which request."""

    module: str
    #: Which worker lane sends it: ``"bulk"`` (data) or ``"realtime"`` (answers a partner
    #: waits for, such as command results; never queued behind bulk work). Default bulk.
    lane: str

    def load(self, object_id: int) -> Any | None: ...

    def label(self, obj: Any) -> str: ...

    def targets(self, obj: Any) -> Iterable[PartnerConnection]: ...

    def published_to(self, connection: PartnerConnection) -> Iterable[Any]:
        """Everything of this kind the connection should hold (for an initial load)."""
        ...

    def send(
        self, *, adapter: Adapter, client: OcpiClient, connection: PartnerConnection, obj: Any
    ) -> OcpiResponse: ...


def _receivers(connections: Iterable[PartnerConnection], module: str) -> list[PartnerConnection]:
    return [c for c in connections if c.endpoint_url(module, "RECEIVER")]


class CdrDelivery:
    """CPO role: a final CDR of ours goes to the eMSP whose token was used.

    Exactly once: the CDR is POSTed with the same body and the same ``country_code``/
    ``party_id``/``id`` on every attempt. A receiver that follows the spec treats that triple as
    the CDR's identity and does not store a second copy when a POST is repeated (spec 8.5), so a
    retry after a lost response cannot create a duplicate. We never mint a new id for a retry,
    and an older state cannot exist: a final CDR never changes (corrections are credit CDRs,
    which are CDRs of their own).
    """

    module = "cdrs"
    lane = BULK

    def load(self, object_id: int) -> Cdr | None:
        return (
            Cdr.objects.select_related("party", "tariff_version_at_start__tariff__party")
            .filter(pk=object_id, status=CdrStatus.FINAL)
            .first()
        )

    def label(self, obj: Cdr) -> str:
        return f"{obj.party.code}*{obj.cdr_id}"

    def targets(self, obj: Cdr) -> list[PartnerConnection]:
        if obj.origin != CdrOrigin.GENERATED or not obj.stored_final:
            return []
        connections = PartnerConnection.objects.filter(
            status__in=ACTIVE_STATUSES,
            represented_parties__country_code=obj.token_country_code.upper(),
            represented_parties__party_id=obj.token_party_id.upper(),
        ).distinct()
        return _receivers(connections, self.module)

    def published_to(self, connection: PartnerConnection) -> Iterable[Cdr]:
        if not connection.endpoint_url(self.module, "RECEIVER"):
            return Cdr.objects.none()
        owners = Q()
        for party in connection.represented_parties.all():
            owners |= Q(token_country_code__iexact=party.country_code) & Q(
                token_party_id__iexact=party.party_id
            )
        if not owners:
            return Cdr.objects.none()
        return (
            Cdr.objects.filter(owners, status=CdrStatus.FINAL, origin=CdrOrigin.GENERATED)
            .select_related("party")
            .order_by("end_date_time", "pk")
        )

    def send(
        self, *, adapter: Adapter, client: OcpiClient, connection: PartnerConnection, obj: Cdr
    ) -> OcpiResponse:
        url = connection.endpoint_url(self.module, "RECEIVER")
        assert url is not None
        routing = RoutingHeaders(
            to_country_code=obj.token_country_code,
            to_party_id=obj.token_party_id,
            from_country_code=obj.party.country_code,
            from_party_id=obj.party.party_id,
        )
        return client.post(
            url, json=adapter.render("cdr", obj), routing=routing, module=self.module
        )


# -- shared data pushed to every partner it is published to -------------------------------------
def _active_connections() -> Any:
    return (
        PartnerConnection.objects.filter(status__in=ACTIVE_STATUSES)
        .select_related("partner")
        .prefetch_related("represented_parties")
        .order_by("pk")
    )


def _recipient(connection: PartnerConnection, roles: tuple[str, ...]) -> Party | None:
    """The party a push of shared data over ``connection`` is addressed to (spec 2.11).

    Through a hub it is the hub itself (a broadcast push: TO = hub, the hub forwards to its
    clients of the opposite role). Directly, it is the represented party playing the receiving
    role (the first one, by creation, when the platform hosts several: one push per connection,
    since the data is the same for each of them). ``None`` only for a connection without any
    represented party; the TO headers are then omitted.
    """
    parties = sorted(connection.represented_parties.all(), key=lambda p: p.pk)
    for role in (Role.HUB, *roles):
        for party in parties:
            if party.has_role(role):
                return party
    return parties[0] if parties else None


def _object_url(base: str, *segments: str) -> str:
    """``{endpoint}/{country_code}/{party_id}/{id}...`` (client-owned object URL, spec 2.9)."""
    return "/".join([base.rstrip("/"), *(quote(s, safe="") for s in segments)])


#: Who receives shared data of each module, directly (no hub).
LOCATION_RECEIVER_ROLES = (Role.EMSP, Role.NSP, Role.OTHER)
TOKEN_RECEIVER_ROLES = (Role.CPO,)


class LocationDelivery:
    """CPO role: one of our Locations changed; the whole Location is PUT to every partner it is
    published to (its EVSEs and connectors included).

    The row renders the Location as it is at send time, so a coalesced row sends the newest
    state, and the claim never hands out a row of a Location whose previous push to the same
    connection is still in flight: an older state is never delivered after a newer one.
    """

    module = "locations"
    lane = BULK

    def load(self, object_id: int) -> Location | None:
        return (
            locations_with_children(Location.objects.filter(pk=object_id, party__partner=None))
            .select_related("party")
            .first()
        )

    def label(self, obj: Location) -> str:
        return f"{obj.party.code}*{obj.location_id}"

    def targets(self, obj: Location) -> list[PartnerConnection]:
        return [
            c
            for c in _receivers(_active_connections(), self.module)
            if obj.is_published_to(c.partner)
        ]

    def published_to(self, connection: PartnerConnection) -> Iterable[Location]:
        if not connection.endpoint_url(self.module, "RECEIVER"):
            return Location.objects.none()
        return locations_with_children(
            Location.objects.filter(party__partner=None)
            .filter(Location.published_to_q(connection.partner))
            .order_by("pk")
        )

    def send(
        self, *, adapter: Adapter, client: OcpiClient, connection: PartnerConnection, obj: Location
    ) -> OcpiResponse:
        return _location_put(adapter, client, connection, obj)


def _location_put(
    adapter: Adapter, client: OcpiClient, connection: PartnerConnection, location: Location
) -> OcpiResponse:
    base = connection.endpoint_url("locations", "RECEIVER")
    assert base is not None
    party = location.party
    return client.put(
        _object_url(base, party.country_code, party.party_id, location.location_id),
        json=adapter.render("location", location),
        routing=RoutingHeaders.between(party, _recipient(connection, LOCATION_RECEIVER_ROLES)),
        module="locations",
    )


class EvseStatusDelivery:
    """CPO role: the status of one of our EVSEs changed; PATCHed as ``status`` and
    ``last_updated`` on the EVSE's URL (spec 6.3), to every partner its Location is published to.

    Many changes of one EVSE before a worker runs coalesce into one PATCH with the newest
    status (rendered at send time). Not part of an initial load: the Location PUT carries the
    statuses. When the partner does not know the Location yet (HTTP 404, or OCPI 2003 "unknown
    location"), the whole Location is PUT instead, as the spec advises after a failed PATCH.
    """

    module = "locations"
    lane = BULK
    initial_load = False  # the Location PUT of an initial load carries every status

    def load(self, object_id: int) -> Evse | None:
        return (
            Evse.objects.select_related("location__party")
            .filter(pk=object_id, location__party__partner=None)
            .first()
        )

    def label(self, obj: Evse) -> str:
        return f"{obj.location.party.code}*{obj.location.location_id}/{obj.uid}"

    def targets(self, obj: Evse) -> list[PartnerConnection]:
        return LocationDelivery().targets(obj.location)

    def published_to(self, connection: PartnerConnection) -> Iterable[Evse]:
        return Evse.objects.none()

    def send(
        self, *, adapter: Adapter, client: OcpiClient, connection: PartnerConnection, obj: Evse
    ) -> OcpiResponse:
        base = connection.endpoint_url(self.module, "RECEIVER")
        assert base is not None
        location = obj.location
        party = location.party
        response = client.patch(
            _object_url(base, party.country_code, party.party_id, location.location_id, obj.uid),
            json=adapter.render("evse_status", obj),
            routing=RoutingHeaders.between(party, _recipient(connection, LOCATION_RECEIVER_ROLES)),
            module=self.module,
        )
        if response.http_status == 404 or response.status_code == OcpiStatus.UNKNOWN_LOCATION:
            whole = LocationDelivery().load(location.pk)
            if whole is not None:
                return _location_put(adapter, client, connection, whole)
        return response


class TariffDelivery:
    """CPO role: one of our tariffs published a new version (PUT of the tariff as its newest
    version says), or was withdrawn (``deleted_at`` set: DELETE), to every partner it is
    published to. The state at send time decides between PUT and DELETE."""

    module = "tariffs"
    lane = BULK

    def load(self, object_id: int) -> Tariff | None:
        tariff = (
            Tariff.objects.select_related("party").filter(pk=object_id, party__partner=None).first()
        )
        if tariff is None or (tariff.deleted_at is None and tariff.latest_version() is None):
            return None  # nothing to say about a tariff without a version
        return tariff

    def label(self, obj: Tariff) -> str:
        return f"{obj.party.code}*{obj.tariff_id}"

    def targets(self, obj: Tariff) -> list[PartnerConnection]:
        return [
            c
            for c in _receivers(_active_connections(), self.module)
            if obj.is_published_to(c.partner)
        ]

    def published_to(self, connection: PartnerConnection) -> Iterable[Tariff]:
        if not connection.endpoint_url(self.module, "RECEIVER"):
            return Tariff.objects.none()
        return (
            Tariff.objects.select_related("party")
            .filter(party__partner=None, deleted_at__isnull=True)
            .filter(Tariff.published_to_q(connection.partner))
            .filter(Exists(TariffVersion.objects.filter(tariff=OuterRef("pk"))))
            .order_by("pk")
        )

    def send(
        self, *, adapter: Adapter, client: OcpiClient, connection: PartnerConnection, obj: Tariff
    ) -> OcpiResponse:
        base = connection.endpoint_url(self.module, "RECEIVER")
        assert base is not None
        party = obj.party
        url = _object_url(base, party.country_code, party.party_id, obj.tariff_id)
        routing = RoutingHeaders.between(party, _recipient(connection, LOCATION_RECEIVER_ROLES))
        if obj.deleted_at is not None:
            return client.delete(url, routing=routing, module=self.module)
        return client.put(
            url, json=adapter.render("tariff", obj), routing=routing, module=self.module
        )


class SessionDelivery:
    """CPO role: one of our sessions changed; the whole Session is PUT (periods included) to
    the eMSP whose token it uses, like its CDR later. The state at send time is sent."""

    module = "sessions"
    lane = BULK

    def load(self, object_id: int) -> ChargingSession | None:
        return (
            ChargingSession.objects.select_related("party")
            .prefetch_related("charging_periods__dimensions")
            .filter(pk=object_id, party__partner=None, source_connection=None)
            .first()
        )

    def label(self, obj: ChargingSession) -> str:
        return f"{obj.party.code}*{obj.session_id}"

    def targets(self, obj: ChargingSession) -> list[PartnerConnection]:
        connections = _active_connections().filter(
            represented_parties__country_code=obj.token_country_code.upper(),
            represented_parties__party_id=obj.token_party_id.upper(),
        )
        return _receivers(connections.distinct(), self.module)

    def published_to(self, connection: PartnerConnection) -> Iterable[ChargingSession]:
        if not connection.endpoint_url(self.module, "RECEIVER"):
            return ChargingSession.objects.none()
        owners = Q()
        for party in connection.represented_parties.all():
            owners |= Q(token_country_code__iexact=party.country_code) & Q(
                token_party_id__iexact=party.party_id
            )
        if not owners:
            return ChargingSession.objects.none()
        return (
            ChargingSession.objects.filter(owners, party__partner=None, source_connection=None)
            .select_related("party")
            .prefetch_related("charging_periods__dimensions")
            .order_by("start_date_time", "pk")
        )

    def send(
        self,
        *,
        adapter: Adapter,
        client: OcpiClient,
        connection: PartnerConnection,
        obj: ChargingSession,
    ) -> OcpiResponse:
        base = connection.endpoint_url(self.module, "RECEIVER")
        assert base is not None
        party = obj.party
        routing = RoutingHeaders(
            to_country_code=obj.token_country_code,
            to_party_id=obj.token_party_id,
            from_country_code=party.country_code,
            from_party_id=party.party_id,
        )
        return client.put(
            _object_url(base, party.country_code, party.party_id, obj.session_id),
            json=adapter.render("session", obj),
            routing=routing,
            module=self.module,
        )


class TokenDelivery:
    """eMSP role: one of our tokens changed; PUT to every CPO connection with a Tokens
    Receiver, with the type as query parameter (the same uid may exist with another type)."""

    module = "tokens"
    lane = BULK

    def load(self, object_id: int) -> Token | None:
        return (
            Token.objects.select_related("party").filter(pk=object_id, party__partner=None).first()
        )

    def label(self, obj: Token) -> str:
        return f"{obj.party.code}*{obj.uid} {obj.type}"

    def targets(self, obj: Token) -> list[PartnerConnection]:
        return _receivers(_active_connections(), self.module)

    def published_to(self, connection: PartnerConnection) -> Iterable[Token]:
        if not connection.endpoint_url(self.module, "RECEIVER"):
            return Token.objects.none()
        return Token.objects.filter(party__partner=None).select_related("party").order_by("pk")

    def send(
        self, *, adapter: Adapter, client: OcpiClient, connection: PartnerConnection, obj: Token
    ) -> OcpiResponse:
        base = connection.endpoint_url(self.module, "RECEIVER")
        assert base is not None
        party = obj.party
        return client.put(
            _object_url(base, party.country_code, party.party_id, obj.uid),
            params={"type": obj.type},
            json=adapter.render("token", obj),
            routing=RoutingHeaders.between(party, _recipient(connection, TOKEN_RECEIVER_ROLES)),
            module=self.module,
        )


KINDS: dict[str, DeliveryKind] = {
    ChangeKind.CDR: CdrDelivery(),
    ChangeKind.LOCATION: LocationDelivery(),
    ChangeKind.EVSE_STATUS: EvseStatusDelivery(),
    ChangeKind.TARIFF: TariffDelivery(),
    ChangeKind.SESSION: SessionDelivery(),
    ChangeKind.TOKEN: TokenDelivery(),
}


# -- recording ---------------------------------------------------------------------------------
@change_listener
def delivery_record_for_change(change: DomainChange) -> list[OutboundDelivery]:
    """Record a delivery per subscribed connection (inside the change's transaction)."""
    kind = KINDS.get(change.kind)
    if kind is None:
        return []
    obj = kind.load(change.object_id)
    if obj is None:
        return []
    return delivery_record(kind_name=change.kind, obj=obj, connections=kind.targets(obj))


def delivery_record(
    *,
    kind_name: str,
    obj: Any,
    connections: Iterable[PartnerConnection],
    enqueue: bool = True,
) -> list[OutboundDelivery]:
    kind = KINDS[kind_name]
    recorded = []
    now = timezone.now()
    for connection in connections:
        # Coalesce: one pending row per (connection, object); it will send the newest state.
        pending = OutboundDelivery.objects.filter(
            connection=connection, kind=kind_name, object_id=obj.pk, status=DeliveryStatus.PENDING
        ).update(changed_at=now)
        if not pending:
            recorded.append(
                OutboundDelivery.objects.create(
                    connection=connection,
                    module=kind.module,
                    kind=kind_name,
                    object_id=obj.pk,
                    object_label=kind.label(obj)[:120],
                    next_attempt_at=now,
                    changed_at=now,
                )
            )
        # Nothing to wake while the connection takes no pushes: resuming it wakes it.
        takes_pushes = connection.status == ConnectionStatus.CONNECTED
        if enqueue and takes_pushes and not connection.outbound_paused:
            deliveries_wake_on_commit(connection.pk, kind.lane)
    return recorded


@dataclass(frozen=True)
class _Wake:
    """An on-commit callback that wakes one connection's lane (one per transaction)."""

    connection_id: int
    lane: str

    def __call__(self) -> None:
        _enqueue(self.connection_id, self.lane)


def deliveries_wake_on_commit(connection_id: int, lane: str = BULK) -> None:
    """Ask for a worker for this connection's lane once the current transaction commits.

    However many rows a transaction records (1,000 CDRs finalized at once), it registers one
    callback per (connection, lane); a rolled-back savepoint drops its callbacks, and the next
    row registers again. Outside a transaction the worker is asked for at once.
    """
    wake = _Wake(connection_id, lane)
    db = transaction.get_connection()
    if db.in_atomic_block and any(entry[1] == wake for entry in db.run_on_commit):
        return
    transaction.on_commit(wake)


def deliveries_wake(connection_id: int) -> None:
    """Ask for a worker on every lane of a connection that has deliveries waiting (its pushes
    were resumed)."""
    waiting = set(
        OutboundDelivery.objects.filter(connection_id=connection_id, status=DeliveryStatus.PENDING)
        .values_list("kind", flat=True)
        .distinct()
    )
    for lane in {_lane_of(kind) for kind in waiting}:
        deliveries_wake_on_commit(connection_id, lane)


@receiver(connection_deliverable)
def _connection_deliverable(sender: object, connection_id: int, **kwargs: object) -> None:
    """A connection was resumed or its pushes released: wake what waited for it."""
    deliveries_wake(connection_id)


def _schedule_key(connection_id: int, lane: str) -> str:
    return f"deliver:{connection_id}:{lane}"


def _enqueue(connection_id: int, lane: str = BULK, countdown: float = 0.0) -> bool:
    """Send a ``deliver`` job for the lane unless one is already waiting (apps.core.scheduling):
    at most one waiting job per (connection, lane), whatever the number of rows."""
    from apps.ocpi.tasks import deliver

    def send(token: str) -> None:
        deliver.apply_async(
            (connection_id,),
            {"lane": lane, "schedule_token": token},
            countdown=countdown or None,
            queue=settings.CELERY_REALTIME_QUEUE if lane == REALTIME else None,
        )

    return enqueue_once(
        _schedule_key(connection_id, lane),
        send,
        countdown=countdown,
        ttl=settings.OCPI_DELIVERY_LEASE_SECONDS,
    )


def delivery_job_started(connection_id: int, lane: str, token: str) -> None:
    job_started(_schedule_key(connection_id, lane), token)


def _lane_of(kind_name: str) -> str:
    """The lane a kind of delivery is sent in (bulk unless the kind says otherwise)."""
    kind = KINDS.get(kind_name)
    return getattr(kind, "lane", BULK) if kind is not None else BULK


def _in_lane(deliveries: Any, lane: str | None) -> Any:
    """Only the deliveries of ``lane`` (all of them for ``None``)."""
    if lane is None:
        return deliveries
    return deliveries.filter(kind__in=[name for name in KINDS if _lane_of(name) == lane])


# -- claiming and sending -----------------------------------------------------------------------
def _due(connection_id: int | None, now: datetime, lane: str | None = None) -> Any:
    in_flight = OutboundDelivery.objects.filter(
        connection=OuterRef("connection"),
        kind=OuterRef("kind"),
        object_id=OuterRef("object_id"),
        status=DeliveryStatus.IN_FLIGHT,
        lease_expires_at__gt=now,
    )
    due = OutboundDelivery.objects.filter(
        _deliverable(connection_id), status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).exclude(Exists(in_flight))
    return _in_lane(due, lane)


def _lease() -> timedelta:
    # Longer than any single exchange can take (the client's own deadline is 3x its timeout).
    return timedelta(seconds=settings.OCPI_DELIVERY_LEASE_SECONDS)


def deliveries_claim(
    *,
    connection_id: int | None = None,
    limit: int | None = None,
    claim_token: str = "",
    lane: str | None = None,
) -> list[int]:
    """Claim up to ``limit`` due deliveries for this worker; returns their ids.

    The rows carry ``claim_token``: every later write by this worker is conditional on it, so
    a row the sweep gave away (lease expired) is never sent or finished by two workers.
    """
    now = timezone.now()
    limit = limit or settings.OCPI_DELIVERY_BATCH
    token = claim_token or uuid.uuid4().hex
    with transaction.atomic():
        candidates = list(
            _due(connection_id, now, lane)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        claimed = []
        for delivery_id in candidates:
            # Conditional UPDATE: zero rows means another worker won this one.
            won = OutboundDelivery.objects.filter(
                pk=delivery_id, status=DeliveryStatus.PENDING
            ).update(
                status=DeliveryStatus.IN_FLIGHT,
                lease_expires_at=now + _lease(),
                claim_token=token,
                claimed_at=now,
            )
            if won:
                claimed.append(delivery_id)
    return claimed


def _start_sending(delivery_id: int, claim_token: str) -> bool:
    """Renew the row's lease just before sending it; False if the claim was lost meanwhile.

    A batch is sent row after row, so the lease granted at claim time may run out for the
    last rows of a slow batch; renewing per row keeps the lease about one exchange long.
    """
    now = timezone.now()
    return bool(
        OutboundDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.IN_FLIGHT, claim_token=claim_token
        ).update(lease_expires_at=now + _lease(), last_attempt_at=now)
    )


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    permanent: bool = False
    retry_after: float | None = None
    error: str = ""
    http_status: int | None = None
    ocpi_status: int | None = None
    remote_location: str = ""
    #: The partner itself could not be reached (timeout, refused, 429): its other deliveries
    #: would fail alike, so they wait as long as this one instead of being tried one by one.
    unreachable: bool = False


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - timezone.now()).total_seconds(), 0.0)


def classify(response: OcpiResponse) -> Outcome:
    http, code = response.http_status, response.status_code
    message = response.status_message or ""
    if 200 <= http < 300 and code is not None and OcpiStatus.is_success(code):
        return Outcome(
            True,
            http_status=http,
            ocpi_status=code,
            remote_location=response.headers.get("Location", ""),
        )
    error = f"HTTP {http}, OCPI {code if code is not None else '-'}: {message}".strip(": ")
    permanent = (400 <= http < 500 and http != 429) or (
        200 <= http < 300 and code is not None and OcpiStatus.is_client_error(code)
    )
    retry_after = None
    if http == 429 or http >= 500:
        retry_after = _retry_after(response.headers.get("Retry-After"))
    # Anything else (HTTP 5xx, 429, OCPI 3xxx/4xxx, no OCPI code) is worth another try.
    return Outcome(
        False,
        permanent=permanent,
        retry_after=retry_after,
        error=error,
        http_status=http,
        ocpi_status=code,
        unreachable=http == 429,
    )


def _backoff(attempts: int) -> float:
    base = settings.OCPI_DELIVERY_BACKOFF_BASE
    delay = min(settings.OCPI_DELIVERY_BACKOFF_MAX, base * 2 ** max(attempts - 1, 0))
    return delay * random.uniform(0.5, 1.5)


def delivery_attempt(delivery_id: int, claim_token: str) -> str:
    """Send one claimed delivery and record the outcome. Returns the new status, or
    ``"CLAIM_LOST"`` when the row is no longer this claim's (the sweep gave it away)."""
    return _attempt(delivery_id, claim_token)[0]


def _attempt(delivery_id: int, claim_token: str) -> tuple[str, Outcome | None]:
    if not _start_sending(delivery_id, claim_token):
        return CLAIM_LOST, None
    delivery = OutboundDelivery.objects.select_related("connection").get(pk=delivery_id)
    kind = KINDS.get(delivery.kind)
    obj = kind.load(delivery.object_id) if kind else None
    connection = delivery.connection
    if kind is None or obj is None:
        gone = Outcome(False, error="object is gone")
        return _finish(delivery, DeliveryStatus.DISCARDED, gone), gone
    token = connection.send_token
    if not token:
        none = Outcome(False, error="no token to send")
        return _finish(delivery, DeliveryStatus.DEAD, none), none
    try:
        adapter = get_adapter(connection.adapter_profile, connection.version)
    except UnknownAdapter as exc:
        # Nothing will change that but an operator (a new registration, another profile): the
        # row is dead with the reason, shown where dead deliveries are, and can be retried.
        unknown = Outcome(False, error=f"{exc}")
        return _finish(delivery, DeliveryStatus.DEAD, unknown), unknown
    try:
        with OcpiClient(
            token=token, raw_token=adapter.sends_raw_token, connection=connection
        ) as client:
            response = kind.send(adapter=adapter, client=client, connection=connection, obj=obj)
        outcome = classify(response)
    except OcpiTransportError as exc:
        outcome = Outcome(
            False,
            permanent=exc.kind == "unsafe_url",
            error=str(exc),
            unreachable=exc.kind in ("timeout", "connection"),
        )
    except Exception as exc:  # a bug or an object we cannot render: recorded, retried later
        logger.exception("delivery %s to %s failed", delivery_id, connection)
        outcome = Outcome(False, error=f"{type(exc).__name__}: {exc}")
    if outcome.delivered:
        return _finish(delivery, DeliveryStatus.DELIVERED, outcome), outcome
    attempts = delivery.attempts + 1  # this one included
    if outcome.permanent or attempts >= settings.OCPI_DELIVERY_MAX_ATTEMPTS:
        return _finish(delivery, DeliveryStatus.DEAD, outcome), outcome
    wait = outcome.retry_after if outcome.retry_after is not None else _backoff(attempts)
    return _finish(delivery, DeliveryStatus.PENDING, outcome, wait=wait), outcome


def _finish(delivery: OutboundDelivery, status: str, outcome: Outcome, *, wait: float = 0.0) -> str:
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": status,
        "attempts": delivery.attempts + 1,
        "lease_expires_at": None,
        "last_error": redact_text(outcome.error)[:2000],
        "last_http_status": outcome.http_status,
        "last_ocpi_status": outcome.ocpi_status,
    }
    if status == DeliveryStatus.DELIVERED:
        fields["delivered_at"] = now
        fields["remote_location"] = outcome.remote_location[:1000]
    if status == DeliveryStatus.PENDING:
        fields["next_attempt_at"] = now + timedelta(seconds=wait)
        # A newer change may have been recorded meanwhile: merge into it (it sends the newest).
        newer = OutboundDelivery.objects.filter(
            connection_id=delivery.connection_id,
            kind=delivery.kind,
            object_id=delivery.object_id,
            status=DeliveryStatus.PENDING,
        ).exclude(pk=delivery.pk)
        if newer.exists():
            fields["status"] = DeliveryStatus.DISCARDED
            fields["last_error"] = redact_text(f"superseded by a newer change ({outcome.error})")[
                :2000
            ]
    finished = OutboundDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.IN_FLIGHT, claim_token=delivery.claim_token
    ).update(**fields)
    return str(fields["status"]) if finished else CLAIM_LOST


@dataclass(frozen=True)
class RunReport:
    claimed: int
    delivered: int
    next_due_in: float | None  # seconds until this lane's next sendable delivery, if any
    more: bool = False  # stopped at ``max_batches`` with work still due


def _deliverable(connection_id: int | None) -> Q:
    """Deliveries a worker may send now or later (the connection takes pushes)."""
    q = Q(connection__status=ConnectionStatus.CONNECTED, connection__outbound_paused=False)
    return q & Q(connection_id=connection_id) if connection_id else q


def deliveries_run(
    *,
    connection_id: int | None = None,
    lane: str | None = None,
    max_batches: int = 20,
    max_seconds: float | None = None,
) -> RunReport:
    """Send what is due (for one connection and lane, or all): ``max_batches`` claims and
    ``max_seconds`` (OCPI_DELIVERY_JOB_SECONDS) at most. A job that used up its time gives the
    rest of its batch back and reports ``more``: its next job queues behind the other
    connections' jobs, so one big or slow partner never holds the workers.

    ``next_due_in`` counts only rows this lane can send later: none for a paused or
    disconnected connection, so its job ends instead of coming back (resuming wakes it)."""
    budget = settings.OCPI_DELIVERY_JOB_SECONDS if max_seconds is None else max_seconds
    deadline = time.monotonic() + budget
    claimed = delivered = 0
    more = False
    for batch in range(max_batches):
        token = uuid.uuid4().hex
        ids = deliveries_claim(connection_id=connection_id, claim_token=token, lane=lane)
        if not ids:
            break
        claimed += len(ids)
        stop = False
        for index, delivery_id in enumerate(ids):
            status, outcome = _attempt(delivery_id, token)
            if status == DeliveryStatus.DELIVERED:
                delivered += 1
            elif outcome is not None and outcome.unreachable and status == DeliveryStatus.PENDING:
                _hold_behind(delivery_id, token, ids[index + 1 :], lane)
                stop, more = True, False
                break
            if time.monotonic() >= deadline:
                rest = ids[index + 1 :]
                claimed -= _release(rest, token)
                stop, more = True, True
                break
        if stop:
            break
        more = batch == max_batches - 1
    pending = _in_lane(
        OutboundDelivery.objects.filter(_deliverable(connection_id), status=DeliveryStatus.PENDING),
        lane,
    )
    nxt = pending.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    next_due_in = max((nxt - timezone.now()).total_seconds(), 0.0) if nxt else None
    return RunReport(claimed=claimed, delivered=delivered, next_due_in=next_due_in, more=more)


def _release(ids: list[int], claim_token: str) -> int:
    """Give claimed rows back unsent (no attempt counted); returns how many."""
    return OutboundDelivery.objects.filter(
        pk__in=ids, status=DeliveryStatus.IN_FLIGHT, claim_token=claim_token
    ).update(status=DeliveryStatus.PENDING, lease_expires_at=None, claim_token="")


def _hold_behind(failed_id: int, claim_token: str, rest: list[int], lane: str | None) -> None:
    """The partner of ``failed_id`` is unreachable: the rest of the batch goes back unsent
    (no attempt counted), and every delivery of that connection and lane due before the failed
    one's retry waits for it, so that a dead partner costs one attempt per retry, not one per
    row (and never holds a worker for a timeout per row)."""
    failed = OutboundDelivery.objects.filter(pk=failed_id).values(
        "connection_id", "next_attempt_at"
    )
    row = failed.first()
    if row is None:
        return
    retry_at = row["next_attempt_at"]
    _release(rest, claim_token)
    waiting = OutboundDelivery.objects.filter(
        connection_id=row["connection_id"],
        status=DeliveryStatus.PENDING,
        next_attempt_at__lt=retry_at,
    )
    _in_lane(waiting, lane).update(next_attempt_at=retry_at)


def deliveries_continue(connection_id: int, lane: str, report: RunReport) -> bool:
    """After a job: ask for the next one only when this one made progress and more is due
    soon (a short wait goes back to the broker, longer ones to the periodic sweep). A job that
    claimed nothing never re-enqueues itself: a row it could not take is in flight elsewhere
    (that worker finds the rest), paused, or waits for the sweep."""
    if not report.claimed:
        return False
    if report.more:
        return _enqueue(connection_id, lane)
    if report.next_due_in is not None and report.next_due_in <= settings.OCPI_DELIVERY_SHORT_WAIT:
        return _enqueue(connection_id, lane, countdown=max(report.next_due_in, 0.05))
    return False


def deliveries_sweep() -> list[tuple[int, str]]:
    """Revive deliveries whose worker died, and list the (connection, lane) pairs with work due."""
    now = timezone.now()
    expired = OutboundDelivery.objects.filter(
        status=DeliveryStatus.IN_FLIGHT, lease_expires_at__lte=now
    )[: settings.OCPI_DELIVERY_BATCH * 20]
    for delivery in expired:
        newer = OutboundDelivery.objects.filter(
            connection_id=delivery.connection_id,
            kind=delivery.kind,
            object_id=delivery.object_id,
            status=DeliveryStatus.PENDING,
        ).exists()
        # Count an attempt only if sending had started (the partner may have got it).
        started = bool(
            delivery.last_attempt_at
            and delivery.claimed_at
            and delivery.last_attempt_at >= delivery.claimed_at
        )
        OutboundDelivery.objects.filter(
            pk=delivery.pk,
            status=DeliveryStatus.IN_FLIGHT,
            claim_token=delivery.claim_token,
            lease_expires_at__lte=now,
        ).update(
            status=DeliveryStatus.DISCARDED if newer else DeliveryStatus.PENDING,
            lease_expires_at=None,
            claim_token="",
            next_attempt_at=now,
            attempts=F("attempts") + (1 if started else 0),
            last_error="the worker sending it was lost"
            if started
            else "the worker that claimed it was lost before sending it",
        )
    pairs = {
        (connection_id, _lane_of(kind))
        for connection_id, kind in _due(None, now).values_list("connection_id", "kind").distinct()
    }
    return sorted(pairs)


def deliveries_sweep_enqueue() -> list[tuple[int, str]]:
    """The periodic sweep: revive, then ask for a job per (connection, lane) with work due
    (nothing is sent for a pair whose job is already waiting)."""
    pairs = deliveries_sweep()
    return [(cid, lane) for cid, lane in pairs if _enqueue(cid, lane)]


# -- operator controls --------------------------------------------------------------------------
def deliveries_retry_now(*, ids: Iterable[int], actor: Actor = None) -> int:
    count = OutboundDelivery.objects.filter(
        pk__in=list(ids), status__in=[DeliveryStatus.DEAD, DeliveryStatus.PENDING]
    ).update(status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), attempts=0)
    audit_log_record(actor=actor, action="delivery.retry_now", after={"count": count})
    for connection_id, kind in set(
        OutboundDelivery.objects.filter(pk__in=list(ids)).values_list("connection_id", "kind")
    ):
        deliveries_wake_on_commit(connection_id, _lane_of(kind))
    return count


def deliveries_discard(*, ids: Iterable[int], actor: Actor = None) -> int:
    count = OutboundDelivery.objects.filter(
        pk__in=list(ids), status__in=[DeliveryStatus.DEAD, DeliveryStatus.PENDING]
    ).update(status=DeliveryStatus.DISCARDED, last_error="discarded by an operator")
    audit_log_record(actor=actor, action="delivery.discard", after={"count": count})
    return count


def connection_push_all(
    *, connection: PartnerConnection, module: str | None = None, actor: Actor = None
) -> dict[str, int]:
    """Initial load: record a delivery of everything we publish to this partner."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        for kind_name, kind in KINDS.items():
            if module and kind.module != module:
                continue
            if not getattr(kind, "initial_load", True):  # answers (command results) only
                continue
            objects = list(kind.published_to(connection))
            for obj in objects:
                delivery_record(
                    kind_name=kind_name, obj=obj, connections=[connection], enqueue=False
                )
            counts[kind.module] = len(objects)
        audit_log_record(actor=actor, action="connection.push_all", obj=connection, after=counts)
        deliveries_wake_on_commit(connection.pk, BULK)
    return counts
