"""Routing headers and pagination, through a real OcpiView subclass (as functional modules will
use them) called with Django requests."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import RequestFactory, override_settings
from rest_framework.request import Request
from rest_framework.response import Response

from apps.ocpi.common.views import OcpiView
from apps.ocpi.versions import VersionNumber
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection, Party
from apps.partners.services import connection_issue_token
from apps.tokens.models import Token
from tests.factories import T0, ConnectionFactory, PartyFactory, TokenFactory

pytestmark = pytest.mark.django_db


class TokenListView(OcpiView):
    """A functional list endpoint like the modules will mount."""

    module: ClassVar[str] = "tokens"
    version = VersionNumber.V2_2_1

    def get(self, request: Request) -> Response:
        assert self.routing is not None
        queryset = Token.objects.filter(party=self.routing.sender)
        return self.paginated(queryset, lambda t: {"uid": t.uid, "last_updated": t.last_updated})


def hub_connection() -> tuple[PartnerConnection, str, list[Party]]:
    connection = ConnectionFactory.create(status=ConnectionStatus.CONNECTED)
    parties = [
        PartyFactory.create(partner=connection.partner, country_code="SE", party_id=p)
        for p in ("AAA", "BBB")
    ]
    connection.represented_parties.set(parties)
    return connection, connection_issue_token(connection=connection, registration=False), parties


def call(rf: RequestFactory, token: str, query: str = "", **headers: str) -> Any:
    auth = "Token " + base64.b64encode(token.encode()).decode()
    request = rf.get(f"/ocpi/2.2.1/tokens{query}", headers={"Authorization": auth, **headers})
    response = TokenListView.as_view()(request)
    response.render()
    return response


ROUTE = {
    "OCPI-from-country-code": "SE",
    "OCPI-from-party-id": "BBB",
    "OCPI-to-country-code": "NL",
    "OCPI-to-party-id": "RDK",
}


def test_routing_headers_are_checked_and_swapped_in_the_answer(rf: RequestFactory) -> None:
    _, token, _ = hub_connection()
    ok = call(rf, token, **ROUTE)
    assert ok.status_code == 200
    assert ok["OCPI-to-country-code"] == "SE"
    assert ok["OCPI-to-party-id"] == "BBB"
    assert ok["OCPI-from-party-id"] == "RDK"

    missing = call(rf, token)
    assert missing.data["status_code"] == 2001
    assert "OCPI-from-country-code" in missing.data["status_message"]
    stranger = call(rf, token, **{**ROUTE, "OCPI-from-party-id": "ZZZ"})
    assert stranger.data["status_code"] == 2001
    assert "may not speak for party SE*ZZZ" in stranger.data["status_message"]
    not_ours = call(rf, token, **{**ROUTE, "OCPI-to-party-id": "XXX"})
    assert not_ours.data["status_code"] == 2001
    assert "not hosted on this platform" in not_ours.data["status_message"]
    malformed = call(rf, token, **{**ROUTE, "OCPI-from-country-code": "SWE"})
    assert malformed.data["status_code"] == 2001


@override_settings(OCPI_PAGE_LIMIT_MAX=3, OCPI_BASE_URL="https://rd.example")
def test_pagination_headers_link_and_filters(rf: RequestFactory) -> None:
    _, token, (_, bbb) = hub_connection()
    for n in range(7):
        TokenFactory.create(party=bbb, uid=f"T{n}", last_updated=T0 + timedelta(hours=n))
    TokenFactory.create(uid="OTHER")  # another party: never visible here

    first = call(rf, token, "?limit=50", **ROUTE)
    assert [t["uid"] for t in first.data["data"]] == ["T0", "T1", "T2"]
    assert first["X-Total-Count"] == "7"
    assert first["X-Limit"] == "3"
    link = first["Link"]
    assert link.endswith('>; rel="next"')
    url = link[1 : link.index(">")]
    assert url.startswith("https://rd.example/ocpi/2.2.1/tokens?")
    assert parse_qs(urlsplit(url).query) == {"offset": ["3"], "limit": ["3"]}

    # Filters: date_from inclusive, date_to exclusive, repeated in Link.
    query = "?date_from=2026-10-01T09:00:00Z&date_to=2026-10-01T14:00:00Z&limit=2"
    page = call(rf, token, query, **ROUTE)
    assert [t["uid"] for t in page.data["data"]] == ["T1", "T2"]
    assert page["X-Total-Count"] == "5"
    next_query = parse_qs(urlsplit(page["Link"][1 : page["Link"].index(">")]).query)
    assert next_query == {
        "offset": ["2"],
        "limit": ["2"],
        "date_from": ["2026-10-01T09:00:00Z"],
        "date_to": ["2026-10-01T14:00:00Z"],
    }
    last = call(rf, token, query.replace("limit=2", "limit=2&offset=4"), **ROUTE)
    assert [t["uid"] for t in last.data["data"]] == ["T5"]
    assert "Link" not in last

    # Following the links visits every object once, in a stable order.
    seen, query = [], "?limit=3"
    while True:
        response = call(rf, token, query, **ROUTE)
        seen += [t["uid"] for t in response.data["data"]]
        if "Link" not in response:
            break
        query = "?" + urlsplit(response["Link"][1 : response["Link"].index(">")]).query
    assert seen == [f"T{n}" for n in range(7)]


@pytest.mark.parametrize(
    "query",
    ["?offset=-1", "?limit=0", "?limit=ten", "?date_from=yesterday",
     "?date_from=2026-10-02T00:00:00Z&date_to=2026-10-01T00:00:00Z"],
)  # fmt: skip
def test_bad_pagination_parameters_get_2001(rf: RequestFactory, query: str) -> None:
    _, token, _ = hub_connection()
    response = call(rf, token, query, **ROUTE)
    assert response.status_code == 200
    assert response.data["status_code"] == 2001
