"""Live demo: the charge-point simulator keeps a few sessions running at the demo's live EVSEs,
so statuses, sessions and CDRs keep arriving while the portal runs.

``demo_keep_charging`` runs periodically (beat) and once at the end of ``seed_demo``. At each of
the ``LIVE_EVSE_COUNT`` EVSEs the seed keeps free of planned history (``live_evse_uids``):

* a session it started and that is still due to run gets its meter values;
* one that has run its planned time is stopped through the simulator: the session completes and
  its CDR is generated and priced by the tariff engine, like any session of ours;
* an AVAILABLE EVSE idle for its planned pause gets a new session for one of our drivers.

So at most ``LIVE_EVSE_COUNT`` sessions run at a time. Durations and pauses derive from the
session id and the EVSE, so the tick makes no random choices of its own: run twice at the same
moment, it changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from apps.charging_sessions.enums import SessionStatus
from apps.charging_sessions.models import ChargingSession
from apps.commands.backend import charge_point_backend
from apps.commands.simulator import (
    SimulatorBackend,
    simulator_meter_advance,
    simulator_session_start,
    simulator_session_stop,
)
from apps.locations.enums import EvseStatus
from apps.locations.models import Evse
from apps.tokens.models import Token

#: Marks the sessions the live demo started (their authorization reference starts with it).
REFERENCE_PREFIX = "DEMO-LIVE-"
MIN_MINUTES, MAX_MINUTES = 25, 90
MIN_PAUSE, MAX_PAUSE = 3, 20


@dataclass(frozen=True)
class TickReport:
    started: int = 0
    metered: int = 0
    stopped: int = 0


def _number(*parts: object, low: int, high: int) -> int:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return low + int.from_bytes(digest[:8]) % (high - low + 1)


def live_evses() -> list[Evse]:
    """The EVSEs the seed keeps for live sessions (none before the demo is seeded)."""
    from apps.demo.seed import planned_live_evse_uids

    return list(
        Evse.objects.filter(
            uid__in=planned_live_evse_uids(), location__party__partner__isnull=True
        ).select_related("location__party")
    )


def demo_keep_charging(*, now: datetime | None = None) -> TickReport:
    """Meter, stop and start the live demo sessions (see the module docstring)."""
    if not isinstance(charge_point_backend(), SimulatorBackend):
        return TickReport()
    now = now or timezone.now()
    started = metered = stopped = 0
    for evse in live_evses():
        session = (
            ChargingSession.objects.filter(
                evse=evse,
                status=SessionStatus.ACTIVE,
                authorization_reference__startswith=REFERENCE_PREFIX,
            )
            .order_by("pk")
            .first()
        )
        if session is not None:
            minutes = _number(session.session_id, low=MIN_MINUTES, high=MAX_MINUTES)
            end = session.start_date_time + timedelta(minutes=minutes)
            if now < end:
                if simulator_meter_advance(session=session, at=now) is not None:
                    metered += 1
                continue
            # Over (perhaps long ago, when no worker ran): it ends when it was due to, and the
            # next one may start at once, so one tick catches up.
            simulator_session_stop(session=session, at=end)
            stopped += 1
            evse.refresh_from_db()
        pause = _number(evse.uid, evse.last_updated, low=MIN_PAUSE, high=MAX_PAUSE)
        if evse.status != EvseStatus.AVAILABLE or now < evse.last_updated + timedelta(
            minutes=pause
        ):
            continue
        if _start(evse, now):
            started += 1
    return TickReport(started=started, metered=metered, stopped=stopped)


def _start(evse: Evse, now: datetime) -> bool:
    party = evse.location.party
    tokens = list(
        Token.objects.filter(party__partner__isnull=True, valid=True)
        .select_related("party")
        .order_by("pk")[:200]
    )
    connector = evse.connectors.order_by("pk").first()
    if not tokens or connector is None:
        return False
    rng = random.Random(f"{evse.uid}:{evse.last_updated.isoformat()}")
    token = rng.choice(tokens)
    simulator_session_start(
        party=party,
        evse=evse,
        connector=connector,
        token=token,
        token_fields={
            "token_country_code": token.party.country_code,
            "token_party_id": token.party.party_id,
            "token_uid": token.uid,
            "token_type": token.type,
            "token_contract_id": token.contract_id,
        },
        authorization_reference=f"{REFERENCE_PREFIX}{rng.getrandbits(48):012X}",
        at=now,
    )
    return True
