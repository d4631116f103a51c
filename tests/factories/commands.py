"""Factories and wire bodies for remote-command tests."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import factory

from apps.commands.enums import CommandDirection, CommandType
from apps.commands.models import Command
from apps.locations.models import Evse, Location
from apps.partners.models import Party
from tests.factories import ConnectionFactory, ConnectorFactory, EvseFactory, LocationFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ocpi" / "2.2.1" / "commands"


def token_example() -> dict[str, Any]:
    """The spec's APP_USER token example (DE*TNM), as it is on the wire."""
    data: dict[str, Any] = json.loads((FIXTURES / "token_example_1_app_user.json").read_text())
    return data


class CommandFactory(factory.django.DjangoModelFactory[Command]):
    """A command we sent (eMSP role), not answered yet."""

    class Meta:
        model = Command

    direction = CommandDirection.SENT
    type = CommandType.START_SESSION
    connection = factory.SubFactory(ConnectionFactory)
    response_url = factory.LazyAttribute(
        lambda o: f"http://testserver/ocpi/2.2.1/emsp/commands/{o.type}/{o.uid}"
    )
    uid = factory.Sequence(lambda n: f"cmd{n:08d}")


def charging_site(
    party: Party, *, location_id: str = "LOC1", evses: int = 2, **location: Any
) -> Location:
    """One of our locations with ``evses`` AVAILABLE EVSEs (EVSE1, EVSE2 ...), one connector
    (id "1", 22 kW) each."""
    site = LocationFactory.create(party=party, location_id=location_id, **location)
    for n in range(1, evses + 1):
        evse = EvseFactory.create(location=site, uid=f"EVSE{n}", evse_id=f"NL*RDK*E{n}")
        ConnectorFactory.create(evse=evse, connector_id="1", max_electric_power=22000)
    return site


def evse_of(site: Location, uid: str) -> Evse:
    return site.evses.get(uid=uid)


def start_session_body(
    response_url: str,
    *,
    location_id: str = "LOC1",
    evse_uid: str | None = "EVSE1",
    connector_id: str | None = "1",
    token: dict[str, Any] | None = None,
    authorization_reference: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "response_url": response_url,
        "token": token or token_example(),
        "location_id": location_id,
    }
    for name, value in (
        ("evse_uid", evse_uid),
        ("connector_id", connector_id),
        ("authorization_reference", authorization_reference),
    ):
        if value is not None:
            body[name] = value
    return body


def reserve_now_body(
    response_url: str,
    *,
    reservation_id: str,
    expiry_date: datetime,
    location_id: str = "LOC1",
    evse_uid: str | None = "EVSE1",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "response_url": response_url,
        "token": token_example(),
        "expiry_date": expiry_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reservation_id": reservation_id,
        "location_id": location_id,
    }
    if evse_uid is not None:
        body["evse_uid"] = evse_uid
    return body
