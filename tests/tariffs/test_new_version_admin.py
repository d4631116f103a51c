"""Operators change our tariffs by publishing a new immutable version from the admin."""

from __future__ import annotations

import html
import json

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.models import AuditLogEntry
from apps.partners.models import Party
from apps.tariffs.enums import VersionOrigin
from apps.tariffs.models import Tariff, TariffVersion
from apps.tariffs.services import TariffContent, tariff_version_record
from tests.factories import T0, TariffFactory

pytestmark = pytest.mark.django_db

ENERGY_030 = [
    {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": "21", "step_size": 1}]}
]


def our_tariff() -> Tariff:
    tariff = TariffFactory.create(party=Party.objects.own().get())
    tariff_version_record(
        tariff=tariff,
        content=TariffContent(currency="EUR", elements=ENERGY_030, last_updated=T0),
        origin=VersionOrigin.PUBLISHED,
    )
    return tariff


def form_data(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "currency": "EUR",
        "type": "",
        "elements": json.dumps(ENERGY_030),
        "alt_text": "[]",
    }
    data.update(changes)
    return data


def test_publishing_a_new_version(staff_client: Client) -> None:
    tariff = our_tariff()
    url = reverse("admin:tariffs_tariff_new_version", args=[tariff.pk])
    page = staff_client.get(url)
    assert page.status_code == 200
    assert '"price": "0.30"' in html.unescape(page.content.decode())  # prefilled

    new = [{"price_components": [{"type": "ENERGY", "price": 0.35, "vat": 21, "step_size": 1}]}]
    response = staff_client.post(url, form_data(elements=json.dumps(new)))
    assert response.status_code == 302
    versions = TariffVersion.objects.filter(tariff=tariff).order_by("number")
    assert [v.number for v in versions] == [1, 2]
    latest = versions.last()
    assert latest is not None
    assert latest.origin == VersionOrigin.PUBLISHED
    assert latest.elements[0]["price_components"][0]["price"] == "0.35"  # exact, no float
    assert AuditLogEntry.objects.filter(action="tariff.version_recorded").count() == 2

    # Same content again: no new version.
    again = staff_client.post(url, form_data(elements=json.dumps(new)))
    assert again.status_code == 302
    assert TariffVersion.objects.filter(tariff=tariff).count() == 2


def test_invalid_content_is_refused_and_records_nothing(staff_client: Client) -> None:
    tariff = our_tariff()
    url = reverse("admin:tariffs_tariff_new_version", args=[tariff.pk])
    bad = [{"price_components": [{"type": "ENERGY", "price": "-1", "step_size": 1}]}]
    response = staff_client.post(url, form_data(elements=json.dumps(bad)))
    assert response.status_code == 200
    assert "price" in response.content.decode()
    response = staff_client.post(url, form_data(elements="{not json"))
    assert "not valid JSON" in response.content.decode()
    assert TariffVersion.objects.filter(tariff=tariff).count() == 1


def test_a_partners_tariff_cannot_be_changed_here(staff_client: Client) -> None:
    tariff = TariffFactory.create()  # owned by a partner's party
    url = reverse("admin:tariffs_tariff_new_version", args=[tariff.pk])
    assert staff_client.get(url).status_code == 403
