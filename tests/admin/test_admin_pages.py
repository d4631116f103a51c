"""Every admin changelist and change page answers 200 to a staff user on the demo data."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.cdrs.models import Cdr, CdrFinding
from apps.charging_sessions.models import ChargingSession
from apps.commands.models import Command
from apps.core.models import JobFailure
from apps.ocpi.models import ExchangeLogEntry, SyncCursor
from apps.partners.models import PartnerConnection, Party
from apps.smart_charging.models import (
    ChargingProfileRequest,
    ReportedActiveProfile,
    SessionChargingProfile,
)
from apps.tokens.models import TokenAuthorization
from tests.demo_data import demo_data  # noqa: F401 (fixture)
from tests.factories.commands import CommandFactory
from tests.factories.smart_charging import (
    ChargingProfileRequestFactory,
    SessionChargingProfileFactory,
)

REGISTERED: list[type[Model]] = sorted(
    admin.site._registry, key=lambda m: (m._meta.app_label, m._meta.model_name or "")
)
SAMPLES: dict[type[Model], Callable[[], Model]] = {
    Group: lambda: Group.objects.create(name="operations"),
    TOTPDevice: lambda: TOTPDevice.objects.create(
        user=get_user_model().objects.earliest("pk"), name="phone", confirmed=True
    ),
    AccessAttempt: lambda: AccessAttempt.objects.create(
        username="ops", ip_address="203.0.113.7", path_info="/admin/login/", failures_since_start=5
    ),
    AccessFailureLog: lambda: AccessFailureLog.objects.create(
        username="ops", ip_address="203.0.113.7", path_info="/admin/login/", locked_out=True
    ),
    ExchangeLogEntry: lambda: ExchangeLogEntry.objects.create(
        direction="IN",
        connection=PartnerConnection.objects.first(),
        method="GET",
        url="https://roamdesk.example/ocpi/versions",
        http_status=200,
        ocpi_status=1000,
        request_body='{"token": "[redacted]"}',
    ),
    CdrFinding: lambda: CdrFinding.objects.create(
        cdr=Cdr.objects.final().earliest("pk"),
        source=CdrFinding.Source.SIGNED_DATA,
        code="SIGNED_DATA_ABSENT",
        severity=CdrFinding.Severity.INFO,
        message="The CDR has no signed meter data.",
    ),
    Command: lambda: CommandFactory.create(connection=PartnerConnection.objects.first()),
    SyncCursor: lambda: SyncCursor.objects.create(
        connection=PartnerConnection.objects.earliest("pk"), module="locations"
    ),
    ChargingProfileRequest: lambda: ChargingProfileRequestFactory.create(
        connection=PartnerConnection.objects.first(), session=ChargingSession.objects.first()
    ),
    SessionChargingProfile: lambda: SessionChargingProfileFactory.create(
        session=ChargingSession.objects.first(),
        owner=Party.objects.filter(roles__icontains="EMSP").first(),
    ),
    ReportedActiveProfile: lambda: ReportedActiveProfile.objects.create(
        connection=PartnerConnection.objects.earliest("pk"),
        session_ref="S1",
        start_date_time=timezone.now(),
        active_profile={"start_date_time": "2026-11-01T10:00:00Z", "charging_profile": {}},
    ),
    JobFailure: lambda: JobFailure.objects.create(
        task="roamdesk.ocpi.sync", arguments="(1, 'locations') {}", error="DoesNotExist: gone"
    ),
    TokenAuthorization: lambda: _authorization_of(
        ChargingSession.objects.exclude(authorization_reference="").earliest("pk")
    ),
}
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_data")]


def _authorization_of(session: ChargingSession) -> TokenAuthorization:
    """The eMSP's decision a demo session was started with (its reference links the two)."""
    return TokenAuthorization.objects.create(
        authorization_reference=session.authorization_reference,
        source="PARTNER",
        status="ALLOWED",
        token=session.token,
        token_country_code=session.token_country_code,
        token_party_id=session.token_party_id,
        token_uid=session.token_uid,
        token_type=session.token_type,
        location_id=session.location_ref,
    )


def _name(model: type[Model], view: str) -> str:
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_changelist_and_change_page(model: type[Model], staff_client: Client) -> None:
    response = staff_client.get(reverse(_name(model, "changelist")))
    assert response.status_code == 200
    obj = model._default_manager.order_by("pk").first()
    if obj is None and model in SAMPLES:  # tables the demo data leaves empty
        obj = SAMPLES[model]()
    if obj is None:
        pytest.fail(f"the demo data has no {model._meta.verbose_name}")
    response = staff_client.get(reverse(_name(model, "change"), args=[obj.pk]))
    assert response.status_code == 200
    # Filters and search must work too.
    response = staff_client.get(reverse(_name(model, "changelist")), {"q": "a"})
    assert response.status_code == 200


def test_large_changelists_do_not_count_the_whole_table(staff_client: Client) -> None:
    with CaptureQueriesContext(connection) as ctx:
        response = staff_client.get(reverse(_name(Cdr, "changelist")))
    assert response.status_code == 200
    table = Cdr._meta.db_table
    full_counts = [
        q["sql"]
        for q in ctx.captured_queries
        if re.search(rf'COUNT\(\*\).*FROM "{table}"', q["sql"]) and "LIMIT" not in q["sql"]
    ]
    assert full_counts == []


def test_final_cdr_opens_read_only(staff_client: Client) -> None:
    cdr = Cdr.objects.final().order_by("pk").first()
    assert cdr is not None
    response = staff_client.get(reverse(_name(Cdr, "change"), args=[cdr.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="total_cost_excl_vat"' not in content
    assert 'name="remark"' not in content  # nothing of a final CDR is an input
    response = staff_client.post(reverse(_name(Cdr, "change"), args=[cdr.pk]), {"remark": "edited"})
    assert response.status_code == 403
    assert Cdr.objects.get(pk=cdr.pk).remark == cdr.remark
