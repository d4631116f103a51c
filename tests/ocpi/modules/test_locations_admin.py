"""Operators choose in the admin which partners see each of our Locations (all, selected, none),
and the Locations Sender follows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import simplejson
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.locations.models import Location
from apps.partners.enums import PublishScope
from tests.factories import ConnectionFactory
from tests.factories.locations import location_with_evses
from tests.ocpi.callers import own_party, partner_caller

pytestmark = pytest.mark.django_db


def change_form_data(response: Any) -> dict[str, Any]:
    """What a browser posts back from an admin change page, unchanged."""
    data: dict[str, Any] = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, datetime):  # split date/time widget
            local = timezone.localtime(value)
            data[f"{name}_0"], data[f"{name}_1"] = local.date(), local.time()
        elif value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(n): management[n].value() for n in management.fields})
        for inline_form in inline.formset.forms:
            for name in inline_form.fields:
                value = inline_form[name].value()
                if value is not None:
                    data[inline_form.add_prefix(name)] = value
    return data


def listed_ids(caller: Any) -> list[str]:
    response = caller.get("cpo/locations")
    return [loc["id"] for loc in simplejson.loads(response.content)["data"]]


def test_the_publish_scope_is_edited_in_the_admin_and_the_sender_follows(
    staff_client: Client,
) -> None:
    ours = own_party("CPO")
    location = location_with_evses(party=ours, location_id="SITE", publish_scope=PublishScope.ALL)
    chosen = partner_caller("EMSP", country_code="DE", party_id="EMP")
    other = partner_caller("EMSP", country_code="FR", party_id="EMF")
    ConnectionFactory.create()  # one more partner, not chosen
    page = reverse("admin:locations_location_change", args=[location.pk])
    assert listed_ids(chosen) == listed_ids(other) == ["SITE"]

    form = staff_client.get(page)
    assert {"publish_scope", "publish_partners"} <= set(form.context["adminform"].form.fields)
    data = change_form_data(form)
    data.update(
        publish_scope=PublishScope.SELECTED, publish_partners=[chosen.connection.partner.pk]
    )
    saved = staff_client.post(page, data)

    assert saved.status_code == 302, saved.context["adminform"].form.errors
    location.refresh_from_db()
    assert location.publish_scope == PublishScope.SELECTED
    assert list(location.publish_partners.all()) == [chosen.connection.partner]
    assert listed_ids(chosen) == ["SITE"]
    assert listed_ids(other) == []

    data.update(publish_scope=PublishScope.NONE)
    assert staff_client.post(page, data).status_code == 302
    assert Location.objects.get(pk=location.pk).publish_scope == PublishScope.NONE
    assert listed_ids(chosen) == []
