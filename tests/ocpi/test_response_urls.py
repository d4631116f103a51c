"""A ``response_url`` is checked when it is received, by the one partner-URL rule, for commands
and charging profiles alike: 2001 naming the field, a message that says nothing about how our
names resolve, and nothing stored."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from django.test import override_settings

from apps.commands.models import Command
from apps.ocpi.common.netguard import NOT_REACHABLE
from apps.smart_charging.models import ChargingProfileRequest
from tests.ocpi.callers import Caller, emsp_calling, own_party

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"

REFUSED = [
    ("https://localhost/ocpi/emsp/commands/r/1", NOT_REACHABLE),
    ("https://127.0.0.1:5432/r/1", NOT_REACHABLE),
    ("https://[::1]/r/1", NOT_REACHABLE),
    ("https://169.254.169.254/latest/meta-data/", NOT_REACHABLE),
    ("https://internal.example/r/1", NOT_REACHABLE),  # resolves to 10.1.2.3
    ("https://nowhere.example/r/1", NOT_REACHABLE),  # does not resolve
    ("https://user:secret@emsp.example/r/1", "carries user info"),
    ("http://emsp.example/r/1", "HTTPS required"),
    ("https://emsp.example/" + "r" * 250, "at most 255 characters"),
]


def _dns(answers: dict[str, str]) -> Callable[..., Any]:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], int(port or 0)))]
        if host in ("localhost",) or str(host)[:1].isdigit() or ":" in str(host):
            return real(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    return getaddrinfo


@pytest.fixture
def caller(monkeypatch: pytest.MonkeyPatch) -> Caller:
    monkeypatch.setattr(
        socket, "getaddrinfo", _dns({"emsp.example": PUBLIC, "internal.example": "10.1.2.3"})
    )
    return emsp_calling(own_party("CPO", "EMSP"))


def _refused(response: Any, words: str) -> None:
    body = response.json()
    assert body["status_code"] == 2001
    message = body["status_message"]
    assert message.startswith("response_url")
    assert words in message
    for leak in ("127.0.0.1", "10.1.2.3", "resolves", "non-public", "secret"):
        assert leak not in message


@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
@pytest.mark.parametrize(("url", "words"), REFUSED)
def test_a_command_with_a_response_url_we_would_not_call_is_refused(
    caller: Caller, url: str, words: str
) -> None:
    response = caller.post("cpo/commands/STOP_SESSION", {"response_url": url, "session_id": "S1"})
    _refused(response, words)
    assert not Command.objects.exists()


@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
@pytest.mark.parametrize("method", ["put", "get", "delete"])
@pytest.mark.parametrize(("url", "words"), REFUSED)
def test_a_charging_profile_request_with_such_a_response_url_is_refused(
    caller: Caller, url: str, words: str, method: str
) -> None:
    path = "cpo/chargingprofiles/S1"
    if method == "put":
        body = {
            "charging_profile": {
                "charging_rate_unit": "A",
                "charging_profile_period": [{"start_period": 0, "limit": 16}],
            },
            "response_url": url,
        }
        response = caller.put(path, body)
    else:
        query = f"?response_url={quote(url, safe='')}" + ("&duration=60" if method == "get" else "")
        response = getattr(caller, method)(path + query)
    _refused(response, words)
    assert not ChargingProfileRequest.objects.exists()


@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
def test_a_public_https_response_url_is_accepted(caller: Caller) -> None:
    url = "https://emsp.example/ocpi/emsp/2.2.1/commands/STOP_SESSION/1"
    response = caller.post("cpo/commands/STOP_SESSION", {"response_url": url, "session_id": "S1"})
    assert response.json()["status_code"] == 1000, response.json()
    assert Command.objects.get().response_url == url
    deleted = caller.delete(f"cpo/chargingprofiles/S1?response_url={quote(url, safe='')}")
    assert deleted.json()["status_code"] == 1000, deleted.json()
