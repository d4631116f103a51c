"""The partner health page: per connection and module, figures from the exchange log, the
outbox, the sync cursors and received CDRs, with a daily chart."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.ocpi.models import (
    DeliveryStatus,
    Direction,
    ExchangeLogEntry,
    OutboundDelivery,
    SyncCursor,
)
from apps.ocpi.services.health import command_success, health_overview, sparkline
from apps.partners.models import PartnerConnection
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def call(
    connection: PartnerConnection, module: str, http: int, ocpi: int | None, ago: timedelta
) -> None:
    ExchangeLogEntry.objects.create(
        created_at=timezone.now() - ago,
        direction=Direction.OUTBOUND,
        connection=connection,
        method="POST",
        url="https://partner.example/ocpi/cdrs",
        module=module,
        http_status=http,
        ocpi_status=ocpi,
    )


def test_overview_counts_successes_failures_backlog_and_lag() -> None:
    connection = ConnectionFactory.create(status="CONNECTED")
    call(connection, "cdrs", 200, 1000, timedelta(hours=1))
    call(connection, "cdrs", 200, 1000, timedelta(days=2))
    call(connection, "cdrs", 200, 2001, timedelta(hours=2))  # OCPI error in HTTP 200
    call(connection, "cdrs", 503, None, timedelta(hours=3))
    call(connection, "cdrs", 200, 1000, timedelta(days=40))  # outside the window
    for status, count in ((DeliveryStatus.DELIVERED, 3), (DeliveryStatus.DEAD, 1)):
        for i in range(count):
            OutboundDelivery.objects.create(
                connection=connection, module="cdrs", kind="cdr", object_id=i, status=status
            )
    OutboundDelivery.objects.create(connection=connection, module="cdrs", kind="cdr", object_id=9)
    SyncCursor.objects.create(
        connection=connection,
        module="locations",
        high_water=timezone.now() - timedelta(hours=5),
        failures=2,
    )
    [item] = health_overview(days=14)
    cdrs = next(m for m in item.modules if m.module == "cdrs")
    assert (cdrs.successes, cdrs.failures) == (2, 2)
    assert cdrs.success_rate == 50
    assert (cdrs.delivered, cdrs.dead, cdrs.pending) == (3, 1, 1)
    assert cdrs.delivery_acceptance == 75
    assert sum(ok for _, ok, _ in cdrs.daily) == 2
    assert len(cdrs.daily) == 15
    locations = next(m for m in item.modules if m.module == "locations")
    assert locations.sync_lag is not None
    assert timedelta(hours=4, minutes=59) < locations.sync_lag < timedelta(hours=5, minutes=1)
    assert locations.sync_failures == 2


def test_sparkline_scales_to_the_busiest_day() -> None:
    today = timezone.now().date()
    svg = sparkline([(today - timedelta(days=1), 4, 0), (today, 1, 1)], width=20, height=10)
    assert svg.startswith("<svg")
    assert svg.count("<rect") == 4
    assert 'height="10.0"' in svg  # the busiest day fills the height
    assert "1 ok, 1 failed" in svg


def test_health_page_renders_for_staff(staff_client: Client) -> None:
    connection = ConnectionFactory.create(status="CONNECTED", name="acme-emsp")
    call(connection, "tokens", 200, 1000, timedelta(hours=1))
    changelist = staff_client.get(reverse("admin:partners_partnerconnection_changelist"))
    assert b"partner-health" in changelist.content
    page = staff_client.get(reverse("admin:partners_partnerconnection_health") + "?days=7")
    assert page.status_code == 200
    body = page.content.decode()
    assert "acme-emsp" in body
    assert "tokens" in body
    assert "<svg" in body
    assert "Last 7 days" in body


MICROSECONDS = re.compile(r"\d:\d\d:\d\d\.\d{6}")  # str(timedelta) of a measured span


def test_sync_lag_reads_in_hours_and_minutes_on_the_health_page_and_the_cursor_list(
    staff_client: Client,
) -> None:
    connection = ConnectionFactory.create(status="CONNECTED", name="acme-cpo")
    # A measured high-water mark has microseconds; 5 h 07 min and a bit ago.
    SyncCursor.objects.create(
        connection=connection,
        module="locations",
        high_water=timezone.now() - timedelta(hours=5, minutes=7, seconds=3, microseconds=123456),
    )

    health = staff_client.get(reverse("admin:partners_partnerconnection_health")).content.decode()
    cursors = staff_client.get(reverse("admin:ocpi_synccursor_changelist")).content.decode()

    for page in (health, cursors):
        assert not MICROSECONDS.search(page)
        assert "5 h 07 min" in page


def test_health_page_needs_staff(client: Client) -> None:
    response = client.get(reverse("admin:partners_partnerconnection_health"))
    assert response.status_code == 302


def test_command_success_rate() -> None:
    from tests.factories.commands import CommandFactory

    connection = ConnectionFactory.create(status="CONNECTED")
    assert command_success(connection) == "no results yet"
    for result in ("ACCEPTED", "ACCEPTED", "ACCEPTED", "TIMEOUT", ""):
        CommandFactory.create(connection=connection, result=result)
    assert command_success(connection) == "75.0 % of 4"
    [item] = health_overview()
    assert item.extra["Command success"] == "75.0 % of 4"


def test_a_connection_on_a_version_we_do_not_speak_is_shown_as_not_working(
    staff_client: Client,
) -> None:
    """The demo's 2.1.1 partner looked healthy (0 failures) while nothing could be exchanged."""
    old = ConnectionFactory.create(status="CONNECTED", name="old-cpo", version="2.1.1")
    fine = ConnectionFactory.create(status="CONNECTED", name="new-cpo", version="2.2.1")
    problems = {h.connection.pk: h.problem for h in health_overview()}
    assert problems[fine.pk] is None
    assert "no adapter for OCPI 2.1.1" in (problems[old.pk] or "")
    assert "roamdesk speaks 2.2.1" in (problems[old.pk] or "")
    page = staff_client.get(reverse("admin:partners_partnerconnection_health")).content.decode()
    assert page.count("Not working:") == 1
    connection_page = staff_client.get(
        reverse("admin:partners_partnerconnection_change", args=[old.pk])
    ).content.decode()
    assert "Not working: no adapter for OCPI 2.1.1" in connection_page
    fine_page = staff_client.get(
        reverse("admin:partners_partnerconnection_change", args=[fine.pk])
    ).content.decode()
    assert "Not working" not in fine_page


def test_the_reason_of_sync_failures_is_at_hand(staff_client: Client) -> None:
    connection = ConnectionFactory.create(status="CONNECTED", name="flaky-hub")
    SyncCursor.objects.create(
        connection=connection, module="locations", failures=3, last_error="HTTP 503 from partner"
    )
    (item,) = [h for h in health_overview() if h.connection.pk == connection.pk]
    (locations,) = item.modules
    assert (locations.sync_failures, locations.sync_last_error) == (3, "HTTP 503 from partner")
    page = staff_client.get(reverse("admin:partners_partnerconnection_health")).content.decode()
    assert 'title="last error: HTTP 503 from partner"' in page


def test_a_connection_without_a_name_is_called_by_its_partner() -> None:
    named = ConnectionFactory.create(name="production")
    unnamed = ConnectionFactory.create(name="")
    assert str(named) == f"{named.partner.name} / production"
    assert str(unnamed) == unnamed.partner.name
