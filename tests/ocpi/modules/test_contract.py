"""The module contract suite (tests/ocpi/contract.py), instantiated for every functional module
with a Sender list or a Receiver of client-owned objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.cdrs.models import Cdr
from apps.charging_sessions.models import ChargingSession
from apps.locations.models import Location
from apps.partners.enums import PublishScope
from apps.tariffs.models import Tariff
from apps.tokens.models import Token
from tests.factories import SessionFactory, TokenFactory
from tests.factories.locations import location_with_evses
from tests.factories.tariffs_cdrs import energy_content, final_cdr, published_tariff
from tests.ocpi.contract import (
    ReceiverContract,
    ReceiverSpec,
    SenderContract,
    SenderSpec,
    World,
)


def _owner_url(data: dict[str, Any]) -> str:
    return f"{data['country_code']}/{data['party_id']}/{data['id']}"


# -- Locations ------------------------------------------------------------------------------------
class TestLocationsSender(SenderContract):
    spec = SenderSpec(
        path="cpo/locations",
        our_role="CPO",
        caller_role="EMSP",
        make=lambda w, t: location_with_evses(party=w.ours, evses=1, last_updated=t),
        make_hidden=lambda w, t: location_with_evses(
            party=w.ours, evses=1, last_updated=t, publish_scope=PublishScope.NONE
        ),
    )


class TestLocationsReceiver(ReceiverContract):
    spec = ReceiverSpec(
        path="emsp/locations",
        caller_role="CPO",
        our_role="EMSP",
        fixtures="locations",
        examples=(
            "location_example.json",
            "location_example_parking_garage_opening_hours.json",
            "location_example_uc2_destination_charger.json",
            "location_example_uc3_destination_charger_not_published.json",
            "location_example_uc4_limited_visibility.json",
            "location_example_uc5_home_charge_point.json",
        ),
        model=Location,
        object_url=_owner_url,
    )


# -- Tariffs --------------------------------------------------------------------------------------
def _tariff(world: World, moment: datetime, scope: str = PublishScope.ALL) -> Tariff:
    return published_tariff(world.ours, content=energy_content(updated=moment), scope=scope)


class TestTariffsSender(SenderContract):
    spec = SenderSpec(
        path="cpo/tariffs",
        our_role="CPO",
        caller_role="EMSP",
        make=_tariff,
        make_hidden=lambda w, t: _tariff(w, t, PublishScope.NONE),
    )


class TestTariffsReceiver(ReceiverContract):
    spec = ReceiverSpec(
        path="emsp/tariffs",
        caller_role="CPO",
        our_role="EMSP",
        fixtures="tariffs",
        examples=(
            "tariff_1_simple_2hour.json",
            "tariff_2_alt_text.json",
            "tariff_3_alt_url.json",
            "tariff_4_complex.json",
            "tariff_5_free_of_charge.json",
            "tariff_6_025kwh_start_max_price.json",
            "tariff_8_simple_025kwh.json",
            "tariff_9_025kwh_start.json",
            "tariff_10_025kwh_parking_start.json",
            "tariff_11_not_possible_alt_text.json",
            "tariff_12_025kwh_min_price.json",
            "tariff_13_simple_3hour_5parking.json",
            "tariff_14_step_size.json",
            "tariff_15_reservation_5_euro_per_hour.json",
            "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json",
            "tariff_17_reservation_with_expire_fee.json",
            "tariff_18_reservation_with_expire_time.json",
            "tariffrestriction_example_max_duration.json",
            "tariffrestriction_example_max_power.json",
            # tariff_put_example.json is left out: it has no last_updated, which the Tariff
            # object requires; we answer it with 2001 (tested in test_tariffs).
        ),
        model=Tariff,
        object_url=_owner_url,
    )


# -- CDRs -----------------------------------------------------------------------------------------
class TestCdrsSender(SenderContract):
    spec = SenderSpec(
        path="cpo/cdrs",
        our_role="CPO",
        caller_role="EMSP",
        make=lambda w, t: final_cdr(w.ours, token_party=w.caller.party, last_updated=t),
        make_hidden=lambda w, t: final_cdr(w.ours, token_party=w.stranger.party, last_updated=t),
    )


class TestCdrsReceiver(ReceiverContract):
    spec = ReceiverSpec(
        path="emsp/cdrs",
        caller_role="CPO",
        our_role="EMSP",
        fixtures="cdrs",
        examples=("cdr_example.json",),
        model=Cdr,
        object_url=None,
    )


# -- Sessions -------------------------------------------------------------------------------------
def _session(world: World, moment: datetime, *, driver_of: Any) -> ChargingSession:
    return SessionFactory.create(
        party=world.ours,
        token_country_code=driver_of.party.country_code,
        token_party_id=driver_of.party.party_id,
        last_updated=moment,
    )


class TestSessionsSender(SenderContract):
    spec = SenderSpec(
        path="cpo/sessions",
        our_role="CPO",
        caller_role="EMSP",
        make=lambda w, t: _session(w, t, driver_of=w.caller),
        make_hidden=lambda w, t: _session(w, t, driver_of=w.stranger),
        base_query={"date_from": "2020-01-01T00:00:00Z"},
    )


class TestSessionsReceiver(ReceiverContract):
    spec = ReceiverSpec(
        path="emsp/sessions",
        caller_role="CPO",
        our_role="EMSP",
        fixtures="sessions",
        examples=("session_example_1_simple_start.json", "session_example_2_short_finished.json"),
        model=ChargingSession,
        object_url=_owner_url,
    )


# -- Tokens ---------------------------------------------------------------------------------------
class TestTokensSender(SenderContract):
    spec = SenderSpec(
        path="emsp/tokens",
        our_role="EMSP",
        caller_role="CPO",
        make=lambda w, t: TokenFactory.create(party=w.ours, last_updated=t),
        # A copy of another eMSP's token is not ours to hand out.
        make_hidden=lambda w, t: TokenFactory.create(party=w.stranger.party, last_updated=t),
        wire_id=lambda data: str(data["uid"]),
    )


class TestTokensReceiver(ReceiverContract):
    spec = ReceiverSpec(
        path="cpo/tokens",
        caller_role="EMSP",
        our_role="CPO",
        fixtures="tokens",
        examples=(
            "token_example_1_app_user.json",
            "token_example_2_full_rfid.json",
            "token_put_example.json",
        ),
        model=Token,
        object_url=lambda d: f"{d['country_code']}/{d['party_id']}/{d['uid']}?type={d['type']}",
    )
