"""seed_demo builds a living dataset relative to today, and re-running it never duplicates."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.core import serializers
from django.core.management import CommandError, call_command
from django.db.models import Model

from apps.cdrs.enums import CdrOrigin
from apps.cdrs.generation import cdr_validate
from apps.cdrs.models import Cdr, CdrFinding
from apps.cdrs.services import cdr_cost_mismatches, cdr_session_input, pricing_result_figures
from apps.charging_sessions.models import ChargingSession
from apps.demo.live import REFERENCE_PREFIX, TickReport, demo_keep_charging
from apps.demo.seed import HISTORY_DAYS, LIVE_EVSE_COUNT, LOG_DAYS, PARTNERS
from apps.locations.models import Evse, Location
from apps.ocpi.models import ExchangeLogEntry, SyncCursor
from apps.ocpi.services.health import health_overview
from apps.partners.models import Partner, PartnerConnection, Party
from apps.tariffs.models import Tariff
from apps.tariffs.pricing import price_session
from apps.tariffs.services import tariff_version_in_effect, tariff_version_spec
from apps.tokens.models import Token

SNAPSHOT_APPS = ["core", "partners", "locations", "tariffs", "tokens", "charging_sessions", "cdrs"]
SNAPSHOT_MODELS: list[type[Model]] = [ExchangeLogEntry, SyncCursor]
NOW = datetime(2027, 3, 17, 14, 20, tzinfo=UTC)
#: Stored amounts keep 10 decimals; a total of n lines may differ from the engine by n/2 units.
SLACK = Decimal("1e-8")


def snapshot() -> tuple[dict[str, int], str]:
    models: list[type[Model]] = [
        m for label in SNAPSHOT_APPS for m in apps.get_app_config(label).get_models()
    ]
    counts: dict[str, int] = {}
    digest = hashlib.sha256()
    for model in [*models, *SNAPSHOT_MODELS]:
        qs = model._default_manager.order_by("pk")
        counts[model._meta.label] = qs.count()
        stream = io.StringIO()
        serializers.serialize("json", qs, stream=stream)
        digest.update(stream.getvalue().encode())
    return counts, digest.hexdigest()


def seed() -> None:
    call_command("seed_demo", allow_production=True, verbosity=0)


def hub() -> PartnerConnection:
    return PartnerConnection.objects.get(partner__name="Nordic Roaming Hub")


def speaks_no_version_we_support() -> PartnerConnection:
    return PartnerConnection.objects.get(partner__name="Voltway Charging")


@pytest.mark.django_db
def test_seed_demo_is_complete_relative_to_today_and_idempotent() -> None:
    with time_machine.travel(NOW, tick=False):
        seed()
        first = snapshot()
        seed()
        second = snapshot()
    assert second[0] == first[0]
    assert second[1] == first[1], "the second run changed stored values"

    assert Party.objects.own().count() == 2
    assert Partner.objects.count() == 3
    assert len(set(PartnerConnection.objects.values_list("version", flat=True))) == 2
    assert 45 <= Location.objects.count() <= 55
    assert 140 <= Evse.objects.count() <= 160
    assert len(set(Location.objects.values_list("country", flat=True))) == 5
    assert Tariff.objects.count() == 7
    assert all(t.versions.count() == 2 for t in Tariff.objects.all())
    assert Token.objects.count() == 500

    # The history covers the last 90 days up to now, every week of it.
    sessions = ChargingSession.objects.all()
    assert 300 <= sessions.count() <= 450
    starts = sorted(s.start_date_time for s in sessions)
    assert starts[0] >= NOW - timedelta(days=HISTORY_DAYS + 1)
    assert starts[0] < NOW - timedelta(days=HISTORY_DAYS - 1)
    assert max(s.end_date_time for s in sessions if s.end_date_time) <= NOW
    assert max(starts) > NOW - timedelta(days=1)
    weeks = {(NOW - s).days // 7 for s in starts}
    assert weeks == set(range(HISTORY_DAYS // 7 + 1))
    # Each tariff's price change falls inside the history: both versions priced sessions.
    used = set(Cdr.objects.filter(credit=False).values_list("tariff_version_at_start", flat=True))
    assert len(used) == 14

    completed = sessions.filter(status="COMPLETED").count()
    assert Cdr.objects.filter(credit=False).count() == completed
    assert Cdr.objects.filter(credit=True).count() == 1
    assert not Cdr.objects.exclude(status="FINAL").exists()


@pytest.mark.django_db
def test_our_demo_cdrs_are_what_the_tariff_engine_prices() -> None:
    """Every CDR of ours passes validation, which re-prices its periods with the engine under
    its start version (totals and quantities) and checks its lines add up."""
    with time_machine.travel(NOW, tick=False):
        seed()
    ours = Cdr.objects.filter(origin=CdrOrigin.GENERATED, credit=False).select_related(
        "location", "tariff_version_at_start__tariff"
    )
    assert ours.count() > 250
    for cdr in ours.prefetch_related("cost_lines"):
        assert cdr.cost_lines.exists()
        assert cdr_cost_mismatches(cdr=cdr) == [], cdr.cdr_id
        assert cdr_validate(cdr=cdr) == [], cdr.cdr_id
        assert cdr.tariff_version_at_start is not None
        tariff = cdr.tariff_version_at_start.tariff
        assert cdr.tariff_version_at_start == tariff_version_in_effect(
            tariff=tariff, at=cdr.start_date_time
        )
        # Session totals are the CDR's.
        assert cdr.session is not None
        assert cdr.session.total_cost_excl_vat == cdr.total_cost_excl_vat


@pytest.mark.django_db
def test_received_cdrs_are_checked_and_stale_prices_wait_for_review() -> None:
    """The hub's CPOs price with the tariff embedded in their CDR; those still on the version
    before a price change differ from our price and wait in the review queue."""
    with time_machine.travel(NOW, tick=False):
        seed()
    received = Cdr.objects.filter(origin=CdrOrigin.RECEIVED).select_related("location")
    assert received.count() > 40
    assert all(c.source_connection_id == hub().pk for c in received)
    stale_ids = set()
    for cdr in received:
        assert cdr.location is not None
        (embedded,) = cdr.tariffs_snapshot
        tariff = Tariff.objects.get(party=cdr.party, tariff_id=embedded["tariff_id"])
        version = tariff.versions.get(number=embedded["version"])
        # An independent engine call on the same tariff version and periods.
        figures = pricing_result_figures(
            price_session(
                tariff_version_spec(version),
                cdr_session_input(cdr=cdr, time_zone=cdr.location.time_zone),
            )
        )
        assert abs(cdr.total_cost_excl_vat - figures["total_cost_excl_vat"]) < SLACK
        assert abs(cdr.total_cost_incl_vat - figures["total_cost_incl_vat"]) < SLACK
        if version != tariff_version_in_effect(tariff=tariff, at=cdr.start_date_time):
            stale_ids.add(cdr.pk)
        codes = set(cdr.findings.values_list("code", flat=True))
        assert codes & {"PRICING_MATCHES", "REVIEW_REQUIRED"}, cdr.cdr_id
    in_review = set(Cdr.objects.needs_review().values_list("pk", flat=True))
    assert in_review
    assert in_review == stale_ids
    assert CdrFinding.objects.filter(code="PRICE_MISMATCH", cdr__in=in_review).exists()


@pytest.mark.django_db
def test_reseeding_days_later_adds_the_new_days_and_changes_nothing_stored() -> None:
    with time_machine.travel(NOW, tick=False):
        seed()
    cdrs_before = {c["pk"]: c for c in serializers.serialize("python", Cdr.objects.order_by("pk"))}
    # The planned history is final; the simulator's live sessions go on (tested below).
    planned = ChargingSession.objects.exclude(authorization_reference__startswith=REFERENCE_PREFIX)
    sessions_before = set(planned.values_list("pk", "session_id", "last_updated"))
    exchanges_before = ExchangeLogEntry.objects.count()

    later = NOW + timedelta(days=3)
    with time_machine.travel(later, tick=False):
        seed()
        after = snapshot()
        seed()
        assert snapshot() == after, "a second run on the later day changed something"

    # Nothing stored earlier changed; final CDRs were never touched.
    for cdr in serializers.serialize("python", Cdr.objects.filter(pk__in=list(cdrs_before))):
        assert cdr == cdrs_before[cdr["pk"]]
    assert sessions_before <= set(planned.values_list("pk", "session_id", "last_updated"))
    new_sessions = planned.exclude(pk__in=[pk for pk, _, _ in sessions_before])
    assert 6 <= new_sessions.count() <= 20  # about three days' worth
    assert all(NOW - timedelta(days=1) < s.start_date_time for s in new_sessions)
    assert all(s.end_date_time is not None and s.end_date_time <= later for s in new_sessions)
    # No duplicates: ids are unique per party, exchanges per request id.
    ids = list(ChargingSession.objects.values_list("party_id", "session_id"))
    assert len(ids) == len(set(ids))
    cdr_ids = list(Cdr.objects.values_list("party_id", "cdr_id"))
    assert len(cdr_ids) == len(set(cdr_ids))
    assert Cdr.objects.filter(credit=True).count() == 1
    request_ids = list(ExchangeLogEntry.objects.values_list("request_id", flat=True))
    assert len(request_ids) == len(set(request_ids))
    assert ExchangeLogEntry.objects.count() > exchanges_before
    assert ExchangeLogEntry.objects.filter(created_at__gt=NOW).exists()


@pytest.mark.django_db
def test_health_shows_traffic_and_failures_except_for_the_version_we_cannot_speak() -> None:
    with time_machine.travel(NOW, tick=False):
        seed()
        overview = {h.connection.partner.name: h for h in health_overview(days=LOG_DAYS)}
    traffic = {spec.name for spec in PARTNERS if spec.traffic}
    assert traffic == {"Chargewise Mobility", "Nordic Roaming Hub"}
    for name in traffic:
        modules = overview[name].modules
        assert sum(m.successes for m in modules) > 1000
        assert sum(m.failures for m in modules) > 10
        days_with_calls = {d for m in modules for d, ok, failed in m.daily if ok + failed}
        assert len(days_with_calls) >= LOG_DAYS
        assert max(m.last_success for m in modules if m.last_success) > NOW - timedelta(hours=1)
    assert overview["Nordic Roaming Hub"].cdrs_received > 40
    assert overview["Nordic Roaming Hub"].cdrs_in_review >= 1

    idle = overview["Voltway Charging"]
    assert not ExchangeLogEntry.objects.filter(connection=speaks_no_version_we_support()).exists()
    assert all(m.successes == 0 and m.last_success is None for m in idle.modules)
    assert idle.cdrs_received == 0


@pytest.mark.django_db
def test_sync_cursors_follow_their_schedule() -> None:
    with time_machine.travel(NOW, tick=False):
        seed()
    for cursor in SyncCursor.objects.filter(connection=hub(), module__in=["locations", "cdrs"]):
        assert cursor.interval_minutes in (15, 30)
        assert cursor.last_run_at is not None
        assert NOW - timedelta(minutes=cursor.interval_minutes) <= cursor.last_run_at <= NOW
        assert cursor.last_success_at is not None
        assert cursor.high_water == cursor.last_success_at
        assert cursor.successes > 0
        assert cursor.failures > 0
        assert cursor.last_error
    silent = SyncCursor.objects.filter(connection=speaks_no_version_we_support())
    assert silent.count() == 4
    assert all(c.last_success_at is None and c.successes == 0 for c in silent)


@pytest.mark.django_db
def test_seed_demo_refuses_a_production_database_unless_told() -> None:
    with pytest.raises(CommandError, match="allow-production"):
        call_command("seed_demo", verbosity=0)
    assert not Cdr.objects.exists()


@pytest.mark.django_db
def test_the_simulator_keeps_a_few_live_sessions_running_each_ending_in_a_priced_cdr() -> None:
    with time_machine.travel(NOW, tick=False):
        seed()
    live = ChargingSession.objects.filter(authorization_reference__startswith=REFERENCE_PREFIX)
    assert live.filter(status="ACTIVE").count() == LIVE_EVSE_COUNT
    assert all(s.evse is not None and s.evse.status == "CHARGING" for s in live)

    finished_cdrs = 0
    for minutes in range(5, 4 * 60, 5):  # four hours of beat ticks
        with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
            demo_keep_charging()
            assert live.filter(status="ACTIVE").count() <= LIVE_EVSE_COUNT
    completed = live.filter(status="COMPLETED")
    assert completed.count() > LIVE_EVSE_COUNT
    for session in completed:
        cdr = Cdr.objects.get(session=session, credit=False)
        finished_cdrs += 1
        assert cdr.status == "FINAL"
        assert cdr.cost_lines.exists()
        assert cdr_validate(cdr=cdr) == []  # the engine's price of its periods
        assert session.charging_periods.count() > 1  # meter values arrived while it ran
    assert finished_cdrs == completed.count()

    # Ticking twice at one moment changes nothing the second time.
    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        demo_keep_charging()
        before = snapshot()
        assert demo_keep_charging() == TickReport()
        assert snapshot() == before
