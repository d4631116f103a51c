"""The price preview on a tariff's admin page, and pricing a stored tariff version."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from apps.ocpi.common import jsonutil
from apps.ocpi.v2_2_1.pricing_input import parse_tariff
from apps.tariffs.enums import VersionOrigin
from apps.tariffs.models import Tariff, TariffVersion
from apps.tariffs.pricing import tariff_spec_from_content
from apps.tariffs.services import tariff_version_record, tariff_version_spec
from tests.factories import LocationFactory, TariffFactory
from tests.tariffs.helpers import FIXTURES

pytestmark = pytest.mark.django_db


def stored(name: str) -> tuple[Tariff, TariffVersion]:
    """A tariff holding one of the spec's example tariffs as its version 1."""
    tariff_id, content = parse_tariff(jsonutil.loads((FIXTURES / "tariffs" / name).read_bytes()))
    tariff = TariffFactory.create(tariff_id=tariff_id)
    version, _ = tariff_version_record(
        tariff=tariff, content=content, origin=VersionOrigin.RECEIVED
    )
    return tariff, version


def preview_url(tariff: Tariff) -> str:
    return reverse("admin:tariffs_tariff_preview", args=[tariff.pk])


def test_a_stored_version_prices_like_its_content() -> None:
    _, version = stored("tariff_6_025kwh_start_max_price.json")
    _, content = parse_tariff(
        jsonutil.loads((FIXTURES / "tariffs" / "tariff_6_025kwh_start_max_price.json").read_bytes())
    )
    spec = tariff_version_spec(TariffVersion.objects.get(pk=version.pk))
    assert spec == tariff_spec_from_content(content, tariff_id="16")
    assert spec.max_price_excl_vat == Decimal("10")
    assert spec.end_date_time == datetime(2019, 6, 30, 23, 59, 59, tzinfo=UTC)


def test_the_tariff_pages_link_to_the_preview(staff_client: Client) -> None:
    tariff, version = stored("tariff_4_complex.json")
    page = staff_client.get(reverse("admin:tariffs_tariff_change", args=[tariff.pk]))
    assert preview_url(tariff) in page.content.decode()
    page = staff_client.get(reverse("admin:tariffs_tariffversion_change", args=[version.pk]))
    assert f"{preview_url(tariff)}?version={version.pk}" in page.content.decode()


def test_the_preview_form_defaults_to_the_owners_time_zone(staff_client: Client) -> None:
    tariff, version = stored("tariff_4_complex.json")
    LocationFactory.create(party=tariff.party, time_zone="Europe/Berlin")
    page = staff_client.get(preview_url(tariff), {"version": version.pk})
    assert page.status_code == 200
    content = page.content.decode()
    assert 'value="Europe/Berlin"' in content
    assert "Price this session" in content
    assert staff_client.get(preview_url(tariff), {"version": "x"}).status_code == 200


def test_posting_the_preview_shows_the_breakdown(staff_client: Client) -> None:
    tariff, version = stored("tariff_4_complex.json")
    response = staff_client.post(
        preview_url(tariff),
        {
            "version": version.pk,
            "time_zone": "Europe/Berlin",
            "start": "2024-01-13T13:30",  # a Saturday
            "duration": "185",
            "periods": "0 energy=40 current=43\n114 parking=71  # battery full",
        },
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "12.38" in content  # total excl. VAT, rounded for display
    assert "13.98" in content  # incl. VAT
    assert "12.375" in content  # full precision
    assert "Saturday 2024-01-13 13:30" in content  # the reasoning, in local time
    assert "MAX_CURRENT 43 A is ≥ max_current 32 A" in content
    assert "rounded up to 1:15:00" in content


def test_the_preview_prices_a_reservation(staff_client: Client) -> None:
    tariff, version = stored("tariff_17_reservation_with_expire_fee.json")
    response = staff_client.post(
        preview_url(tariff),
        {
            "version": version.pk,
            "time_zone": "UTC",
            "start": "2024-03-04T10:00",
            "duration": "0",
            "reservation": "60",
            "reservation_expired": "on",
            "periods": "0",
        },
    )
    content = response.content.decode()
    assert "6.00" in content
    assert "7.20" in content
    assert "the reservation expired (given)" in content


def test_the_preview_explains_what_it_cannot_price(staff_client: Client) -> None:
    tariff, version = stored("tariff_6_025kwh_start_max_price.json")
    response = staff_client.post(
        preview_url(tariff),
        {
            "version": version.pk,
            "time_zone": "Mars/Olympus",
            "start": "2024-03-04T10:00",
            "duration": "60",
            "periods": "0 energy=20 speed=3",
        },
    )
    content = response.content.decode()
    assert "not an IANA time zone name" in content
    assert "&#x27;speed=3&#x27; is not one of energy" in content

    response = staff_client.post(
        preview_url(tariff),
        {
            "version": version.pk,
            "time_zone": "UTC",
            "start": "2024-03-04T10:00",
            "duration": "60",
            "periods": "0 energy=20",
        },
    )
    assert "NO_VALID_TARIFF: tariff 16 was valid until 2019-06-30" in response.content.decode()


def test_the_preview_needs_a_staff_user(client: Client) -> None:
    tariff, _ = stored("tariff_8_simple_025kwh.json")
    response = client.get(preview_url(tariff))
    assert response.status_code == 302
    assert "/login/" in response["Location"]
