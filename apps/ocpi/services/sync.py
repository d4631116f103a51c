"""Pull sync: one resumable run per (connection, module), on a schedule and on demand.

A run crawls the partner's Sender list page by page (following ``Link``), parses every object
with the connection's adapter and stores it through the **same canonical service** an inbound
push uses, so the result is the same whichever way the data arrived (a stale copy is ignored by
that service's ``last_updated`` rule).

* Incremental: ``date_from`` = the high-water mark, ``date_to`` = the run's start; when the crawl
  completes, that ``date_to`` becomes the high-water mark (spec 2.7: no gap, no overlap).
* Resumable: after each page the next page's URL is committed on the cursor; a run that dies
  (worker killed, partner down) is continued from there by the next run, with the same window.
* Never two at once: a run holds a lease on the cursor (renewed per page); a second run for the
  same (connection, module) finds it held and does nothing. A lease that runs out means the
  holder died, and the next run takes over and resumes.
* A page whose ``X-Total-Count`` dropped (objects updated during the crawl left the window) is
  fetched again from as many places earlier, as the spec advises, so no object is skipped;
  storing an object twice is harmless.
* Invalid objects are logged and counted, the rest of the page is stored (spec 2.7); so is an
  object a service refuses (``DomainError``, e.g. a CDR we hold with other content).
* Requests carry routing headers: from our own party playing the pulling role, to the one
  party the connection represents (several, or a hub: open routing, the list of all).
* The functional modules' kinds are registered in :mod:`apps.ocpi.services.sync_modules`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.errors import DomainError
from apps.core.redaction import redact_text
from apps.core.scheduling import enqueue_once, job_started
from apps.core.upsert import Upserted
from apps.ocpi.adapters.registry import UnknownAdapter, get_adapter
from apps.ocpi.common.client import OcpiClient, OcpiResponse, RoutingHeaders
from apps.ocpi.common.errors import OcpiError
from apps.ocpi.common.timestamps import format_ocpi_datetime
from apps.ocpi.models import SyncCursor
from apps.partners.enums import ConnectionStatus, Role
from apps.partners.models import PartnerConnection, Party
from apps.partners.services import party_reachability_record

logger = logging.getLogger(__name__)

#: The lower bound of a window that has none, where the partner requires one.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SyncKind:
    """How one module's objects are pulled: parsed as ``kind`` and stored by ``store``.

    ``owner`` gives an object's owning party (country_code, party_id), which must be one the
    connection represents (spec 2.9); None skips that check (HubClientInfo describes others).
    ``our_role``: we pull this module when one of our own parties plays this role.
    ``date_from_required``: the Sender list needs ``date_from`` (2.2.1 Sessions); a run with no
    lower bound (the first one, a full one) sends the epoch.
    """

    module: str
    kind: str
    our_role: str
    store: Callable[[PartnerConnection, Party | None, Any], Upserted[Any]]
    owner: Callable[[Any], tuple[str, str]] | None
    date_from_required: bool = False


SYNC_KINDS: dict[str, SyncKind] = {}


def sync_kind_register(kind: SyncKind) -> SyncKind:
    SYNC_KINDS[kind.module] = kind
    return kind


def _store_client_info(connection: PartnerConnection, _owner: Party | None, info: Any) -> Any:
    return party_reachability_record(
        connection=connection,
        country_code=info.country_code,
        party_id=info.party_id,
        role=info.role,
        status=info.status,
        last_updated=info.last_updated,
    )


sync_kind_register(
    SyncKind("hubclientinfo", "client_info", "", store=_store_client_info, owner=None)
)


class SyncBusy(Exception):
    """Another run holds this (connection, module)."""


@dataclass
class SyncReport:
    module: str
    connection_id: int
    resumed: bool = False
    busy: bool = False
    completed: bool = False
    pages: int = 0
    objects: int = 0
    invalid: int = 0
    error: str = ""


# -- scheduling -----------------------------------------------------------------------------------
def _our_roles() -> set[str]:
    return {r for p in Party.objects.own() for r in (p.roles or [])}


def sync_cursors_ensure() -> list[SyncCursor]:
    """A cursor for every (connected connection, module) we should pull."""
    roles = _our_roles()
    cursors = []
    for connection in PartnerConnection.objects.filter(status=ConnectionStatus.CONNECTED):
        for kind in SYNC_KINDS.values():
            if kind.our_role and kind.our_role not in roles:
                continue
            if not connection.endpoint_url(kind.module, "SENDER"):
                continue
            cursor, _ = SyncCursor.objects.get_or_create(connection=connection, module=kind.module)
            cursors.append(cursor)
    return cursors


def syncs_due(*, now: datetime | None = None) -> list[tuple[int, str, bool]]:
    """(connection id, module, full) of every sync due now."""
    now = now or timezone.now()
    due = []
    for cursor in sync_cursors_ensure():
        if not cursor.enabled:
            continue
        retry_at = cursor.retry_at
        if retry_at is not None and retry_at > now:
            continue  # failed lately: wait (longer after each failure) instead of hammering
        if cursor.in_progress:  # interrupted or running: resume (a live holder refuses)
            due.append((cursor.connection_id, cursor.module, cursor.run_full))
            continue
        full_every = cursor.full_interval_hours
        if full_every and (
            cursor.last_full_at is None or cursor.last_full_at + timedelta(hours=full_every) <= now
        ):
            due.append((cursor.connection_id, cursor.module, True))
        elif (
            cursor.last_run_at is None
            or cursor.last_run_at + timedelta(minutes=cursor.interval_minutes) <= now
        ):
            due.append((cursor.connection_id, cursor.module, False))
    return due


def _schedule_key(connection_id: int, module: str, full: bool) -> str:
    return f"sync:{connection_id}:{module}:{'full' if full else 'incremental'}"


def sync_enqueue(connection_id: int, module: str, full: bool = False) -> bool:
    """Ask a worker for this sync unless one is already waiting for it (the schedule, an
    operator's "Sync now" and a resumed run never queue the same sync twice)."""
    from apps.ocpi.tasks import sync

    key = _schedule_key(connection_id, module, full)
    return enqueue_once(
        key,
        lambda token: sync.apply_async((connection_id, module, full), {"schedule_token": token}),
        ttl=settings.OCPI_SYNC_LEASE_SECONDS,
    )


def sync_job_started(connection_id: int, module: str, full: bool, token: str) -> None:
    job_started(_schedule_key(connection_id, module, full), token)


# -- a run ----------------------------------------------------------------------------------------
def _lease() -> timedelta:
    return timedelta(seconds=settings.OCPI_SYNC_LEASE_SECONDS)


def _claim(connection: PartnerConnection, module: str, *, full: bool, token: str) -> bool:
    """Take the cursor's lease; returns True when an interrupted run is being resumed."""
    now = timezone.now()
    with transaction.atomic():
        cursor, _ = SyncCursor.objects.select_for_update().get_or_create(
            connection=connection, module=module
        )
        if cursor.run_token and cursor.run_lease_expires_at and cursor.run_lease_expires_at > now:
            raise SyncBusy(f"a sync of {module} from {connection} is running")
        resumed = cursor.in_progress and bool(cursor.run_next_url)
        if not resumed:
            cursor.run_started_at = now
            cursor.run_full = full
            cursor.run_date_from = None if full else cursor.high_water
            cursor.run_date_to = now
            cursor.run_next_url = ""
            cursor.run_pages = cursor.run_objects = cursor.run_invalid = 0
            cursor.run_total = None
        cursor.run_token = token
        cursor.run_lease_expires_at = now + _lease()
        cursor.last_run_at = now
        cursor.save()
    return resumed


def _cursor(connection: PartnerConnection, module: str, token: str) -> SyncCursor:
    cursor = SyncCursor.objects.select_for_update().get(connection=connection, module=module)
    if cursor.run_token != token:
        raise SyncBusy(f"the sync of {module} from {connection} was taken over")
    return cursor


def _first_url(cursor: SyncCursor, base_url: str, kind: SyncKind) -> str:
    params = {}
    date_from = cursor.run_date_from
    if date_from is None and kind.date_from_required:
        date_from = EPOCH
    if date_from is not None:
        params["date_from"] = format_ocpi_datetime(date_from)
    if cursor.run_date_to is not None:
        params["date_to"] = format_ocpi_datetime(cursor.run_date_to)
    if not params:
        return base_url
    parts = urlsplit(base_url)
    query = [*parse_qsl(parts.query), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _step_back(url: str, drop: int) -> str:
    """The page URL with its offset reduced by ``drop``; "" when there is nothing to step back
    (no drop, or a link that is not offset-based)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if drop <= 0 or not any(k == "offset" for k, _ in query):
        return ""
    query = [(k, str(max(int(v) - drop, 0)) if k == "offset" else v) for k, v in query]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _routing(connection: PartnerConnection, kind: SyncKind) -> RoutingHeaders | None:
    """From our own party pulling (one playing ``kind.our_role``), to the party the connection
    represents; with several of them or a hub, open routing (the list of all of them)."""
    ours = [
        p
        for p in Party.objects.own().order_by("pk")
        if not kind.our_role or p.has_role(kind.our_role)
    ]
    if not ours:
        return None
    parties = list(connection.represented_parties.all())
    to = parties[0] if len(parties) == 1 and not parties[0].has_role(Role.HUB) else None
    return RoutingHeaders.between(ours[0], to)


def _store_page(
    connection: PartnerConnection, kind: SyncKind, adapter: Any, page: OcpiResponse
) -> tuple[int, int]:
    represented = {p.code: p for p in connection.represented_parties.all()}
    stored = invalid = 0
    for item in page.data if isinstance(page.data, list) else []:
        try:
            obj = adapter.parse(kind.kind, item)
        except OcpiError as exc:
            invalid += 1
            logger.warning("%s sent an invalid %s: %s", connection, kind.kind, exc)
            continue
        owner = None
        if kind.owner is not None:
            country_code, party_id = kind.owner(obj)
            owner = represented.get(f"{country_code.upper()}*{party_id.upper()}")
            if owner is None:
                invalid += 1
                logger.warning(
                    "%s sent a %s of party %s*%s, which it does not represent",
                    connection,
                    kind.kind,
                    country_code,
                    party_id,
                )
                continue
        try:
            kind.store(connection, owner, obj)
        except (OcpiError, DomainError) as exc:  # e.g. a reference we cannot resolve
            invalid += 1
            logger.warning("%s: could not store a %s: %s", connection, kind.kind, exc)
            continue
        stored += 1
    return stored, invalid


def _record_failure(connection: PartnerConnection, module: str, *, token: str, error: str) -> None:
    """Count a failed run on its cursor with the reason; a run in progress keeps its window and
    next page for the next attempt, and its lease is released."""
    with transaction.atomic():
        cursor, _ = SyncCursor.objects.select_for_update().get_or_create(
            connection=connection, module=module
        )
        if token and cursor.run_token == token:
            cursor.run_token = ""
            cursor.run_lease_expires_at = None
        cursor.failures += 1
        cursor.consecutive_failures += 1
        cursor.last_error = redact_text(error)[:2000]
        cursor.last_error_at = timezone.now()
        cursor.last_run_at = cursor.last_error_at
        cursor.save()


def sync_run(*, connection_id: int, module: str, full: bool = False) -> SyncReport:
    """Run (or resume) the pull of ``module`` from a connection; see the module docstring."""
    kind = SYNC_KINDS[module]
    connection = PartnerConnection.objects.get(pk=connection_id)
    report = SyncReport(module=module, connection_id=connection_id)
    base_url = connection.endpoint_url(module, "SENDER")
    if not base_url:
        report.error = f"the partner offers no {module} SENDER endpoint"
        return report
    try:
        adapter = get_adapter(connection.adapter_profile, connection.version)
    except UnknownAdapter as exc:
        # Nothing to crawl with: a failure the operator sees on the cursor and the Health page.
        report.error = f"cannot sync: {exc}"
        _record_failure(connection, module, token="", error=report.error)
        return report
    token = uuid.uuid4().hex
    try:
        report.resumed = _claim(connection, module, full=full, token=token)
    except SyncBusy:
        report.busy = True
        return report
    cursor = SyncCursor.objects.get(connection=connection, module=module)
    url = cursor.run_next_url or _first_url(cursor, base_url, kind)
    previous_total = cursor.run_total
    seen: set[str] = set()
    routing = _routing(connection, kind)
    try:
        with OcpiClient.for_connection(connection, raw_token=adapter.sends_raw_token) as client:
            while url:
                page = client.get(url, module=module, routing=routing).raise_for_status()
                seen.add(page.url)
                stored, invalid = _store_page(connection, kind, adapter, page)
                total = page.total_count
                drop = (previous_total or 0) - (total or 0) if total is not None else 0
                # Objects before this page left the window and the rest moved forward: this
                # page is fetched again from ``drop`` places earlier (spec 2.7).
                next_url = _step_back(page.url, drop) or client.checked_next_url(page, seen) or ""
                with transaction.atomic():
                    cursor = _cursor(connection, module, token)
                    cursor.run_pages += 1
                    cursor.run_objects += stored
                    cursor.run_invalid += invalid
                    cursor.run_total = total
                    cursor.run_next_url = next_url
                    cursor.run_lease_expires_at = timezone.now() + _lease()
                    cursor.save()
                report.pages += 1
                report.objects += stored
                report.invalid += invalid
                previous_total, url = total, next_url
    except SyncBusy as exc:
        report.busy, report.error = True, str(exc)
        return report
    except Exception as exc:
        # Keep the run (window and next page) for the next attempt; release the lease.
        report.error = redact_text(str(exc) or type(exc).__name__)
        logger.warning("sync of %s from %s failed: %s", module, connection, report.error)
        _record_failure(connection, module, token=token, error=report.error)
        return report
    with transaction.atomic():
        cursor = _cursor(connection, module, token)
        now = timezone.now()
        cursor.high_water = cursor.run_date_to
        if cursor.run_full:
            cursor.last_full_at = now
        cursor.last_success_at = now
        cursor.successes += 1
        cursor.last_run_objects = cursor.run_objects
        cursor.last_run_invalid = cursor.run_invalid
        cursor.last_error = ""
        cursor.consecutive_failures = 0
        cursor.run_token = ""
        cursor.run_lease_expires_at = cursor.run_started_at = None
        cursor.run_date_from = cursor.run_date_to = None
        cursor.run_next_url = ""
        cursor.run_full = False
        cursor.save()
    report.completed = True
    return report


# The functional modules' kinds (registered after everything they use is defined).
from apps.ocpi.services import sync_modules  # noqa: E402, F401
