"""The outbound OCPI client against a real HTTP server on 127.0.0.1 (no mocked transport)."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.test import override_settings

from apps.ocpi.common.client import (
    OcpiCallError,
    OcpiClient,
    OcpiResponse,
    OcpiTransportError,
    RoutingHeaders,
    parse_next_link,
)
from apps.ocpi.common.netguard import (
    UnresolvableHostError,
    UnsafeUrlError,
    check_outbound_url,
)
from apps.ocpi.models import Direction, ExchangeLogEntry
from tests.factories import ConnectionFactory
from tests.ocpi.httpserver import OcpiPeer, RecordedRequest, Reply, envelope

pytestmark = pytest.mark.django_db

TOKEN = "example-token"


@pytest.fixture(autouse=True)
def _allow_local(settings: Any) -> None:
    settings.OCPI_OUTBOUND_ALLOW_LOCAL = True


@pytest.fixture
def client() -> Any:
    with OcpiClient(token=TOKEN, timeout=5) as ocpi_client:
        yield ocpi_client


def is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4
    except ValueError:
        return False


# -- headers -------------------------------------------------------------------------------------
def test_authorization_header_is_base64_of_the_token(ocpi_peer: OcpiPeer, client: Any) -> None:
    client.get(ocpi_peer.url("/versions"))
    # The spec's example with the trailing newline removed (see the digest, section 2.2).
    assert ocpi_peer.last.headers["Authorization"] == "Token ZXhhbXBsZS10b2tlbg=="


def test_authorization_header_encodes_utf8_with_the_standard_alphabet(ocpi_peer: OcpiPeer) -> None:
    with OcpiClient(token="ü>?~", timeout=5) as ocpi_client:
        ocpi_client.get(ocpi_peer.url())
    # standard alphabet (+ and /, with padding), not the URL-safe one
    assert ocpi_peer.last.headers["Authorization"] == "Token w7w+P34="


def test_raw_token_dialect(ocpi_peer: OcpiPeer) -> None:
    with OcpiClient(token=TOKEN, raw_token=True, timeout=5) as ocpi_client:
        ocpi_client.get(ocpi_peer.url())
    assert ocpi_peer.last.headers["Authorization"] == "Token example-token"


@pytest.mark.parametrize("token", ["", "with space", "line\r\nX-Injected: 1"])
def test_unusable_raw_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        OcpiClient(token=token, raw_token=True)


def test_every_request_gets_a_new_request_id_and_a_correlation_id(
    ocpi_peer: OcpiPeer, client: Any
) -> None:
    first = client.get(ocpi_peer.url("/a"))
    second = client.get(ocpi_peer.url("/b"))
    sent = [r.headers for r in ocpi_peer.requests]
    assert [h["X-Request-ID"] for h in sent] == [first.request_id, second.request_id]
    assert [h["X-Correlation-ID"] for h in sent] == [first.correlation_id, second.correlation_id]
    assert all(is_uuid4(v) for v in (first.request_id, second.request_id))
    assert all(is_uuid4(v) for v in (first.correlation_id, second.correlation_id))
    assert first.request_id != second.request_id
    assert first.correlation_id != second.correlation_id
    assert first.request_id != first.correlation_id


def test_a_given_correlation_id_is_passed_through(ocpi_peer: OcpiPeer, client: Any) -> None:
    response = client.post(ocpi_peer.url("/commands"), json={}, correlation_id="corr-42")
    assert ocpi_peer.last.headers["X-Correlation-ID"] == "corr-42"
    assert response.correlation_id == "corr-42"
    assert is_uuid4(ocpi_peer.last.headers["X-Request-ID"])


def test_routing_headers(ocpi_peer: OcpiPeer, client: Any) -> None:
    routing = RoutingHeaders(
        to_country_code="de", to_party_id="abc", from_country_code="NL", from_party_id="RDK"
    )
    client.get(ocpi_peer.url("/locations"), routing=routing)
    headers = ocpi_peer.last.headers
    assert headers["OCPI-to-country-code"] == "DE"
    assert headers["OCPI-to-party-id"] == "ABC"
    assert headers["OCPI-from-country-code"] == "NL"
    assert headers["OCPI-from-party-id"] == "RDK"

    client.get(ocpi_peer.url("/versions"))  # configuration modules: no routing headers
    assert not [k for k in ocpi_peer.last.headers if k.lower().startswith("ocpi-")]

    open_routing = RoutingHeaders(
        to_country_code="", to_party_id="", from_country_code="NL", from_party_id="RDK"
    )
    client.put(ocpi_peer.url("/tokens/NL/RDK/1"), json={}, routing=open_routing)
    headers = ocpi_peer.last.headers
    assert "OCPI-to-country-code" not in headers
    assert "OCPI-to-party-id" not in headers
    assert headers["OCPI-from-party-id"] == "RDK"


def test_content_type_only_with_a_body(ocpi_peer: OcpiPeer, client: Any) -> None:
    client.get(ocpi_peer.url())
    assert "Content-Type" not in ocpi_peer.last.headers
    assert ocpi_peer.last.body == b""
    client.patch(ocpi_peer.url(), json={"last_updated": datetime(2026, 10, 1, tzinfo=UTC)})
    assert ocpi_peer.last.headers["Content-Type"] == "application/json"
    assert ocpi_peer.last.body == b'{"last_updated":"2026-10-01T00:00:00Z"}'
    assert ocpi_peer.last.method == "PATCH"
    client.delete(ocpi_peer.url())
    assert ocpi_peer.last.method == "DELETE"


def test_query_parameters(ocpi_peer: OcpiPeer, client: Any) -> None:
    client.get(
        ocpi_peer.url("/cdrs?existing=1"),
        params={"date_from": datetime(2026, 1, 1, tzinfo=UTC), "limit": 50, "skip": None},
    )
    assert ocpi_peer.last.query == {
        "existing": ["1"],
        "date_from": ["2026-01-01T00:00:00Z"],
        "limit": ["50"],
    }


# -- numbers and the envelope ----------------------------------------------------------------
def test_decimal_numbers_are_exact_in_both_directions(ocpi_peer: OcpiPeer, client: Any) -> None:
    ocpi_peer.reply(
        b'{"data":{"a":0.1,"b":0.2,"big":12345678901234567890.123456789012,"n":3},'
        b'"status_code":1000,"timestamp":"2026-10-01T08:00:00Z"}'
    )
    response = client.put(
        ocpi_peer.url("/tariffs/NL/RDK/1"),
        json={"price": Decimal("0.1") + Decimal("0.2"), "step": Decimal("0.30000000000000001")},
    )
    # outbound: JSON numbers (not strings), digits exactly as the Decimal has them
    assert ocpi_peer.last.body == b'{"price":0.3,"step":0.30000000000000001}'
    assert ocpi_peer.last.json() == {
        "price": Decimal("0.3"),
        "step": Decimal("0.30000000000000001"),
    }
    # inbound: Decimal, so 0.1 + 0.2 is exactly 0.3
    data = response.data
    assert isinstance(data["a"], Decimal)
    assert data["a"] + data["b"] == Decimal("0.3")
    assert data["big"] == Decimal("12345678901234567890.123456789012")
    assert data["n"] == 3
    assert isinstance(data["n"], int)


def test_envelope_fields(ocpi_peer: OcpiPeer, client: Any) -> None:
    ocpi_peer.reply(
        envelope(
            [{"id": "1"}],
            status_message="Fine",
            timestamp="2015-06-30T21:59:59.123Z",
        ),
        headers={"X-Total-Count": "7", "X-Limit": "50"},
    )
    response = client.get(ocpi_peer.url("/locations"))
    assert response.ok
    assert response.http_status == 200
    assert response.status_code == 1000
    assert response.status_message == "Fine"
    assert response.timestamp == datetime(2015, 6, 30, 21, 59, 59, 123000, tzinfo=UTC)
    assert response.data == [{"id": "1"}]
    assert response.total_count == 7
    assert response.limit == 50
    assert response.next_url is None
    assert response.raise_for_status() is response
    assert response.body.startswith(b"{")
    assert response.headers["x-total-count"] == "7"


def test_invalid_or_missing_timestamp_gives_none(ocpi_peer: OcpiPeer, client: Any) -> None:
    ocpi_peer.reply(envelope(timestamp="yesterday"), headers={"X-Total-Count": "many"})
    response = client.get(ocpi_peer.url())
    assert response.ok
    assert response.timestamp is None
    assert response.total_count is None
    ocpi_peer.reply(envelope(timestamp=None))
    assert client.get(ocpi_peer.url()).timestamp is None


def test_ocpi_error_with_http_200(ocpi_peer: OcpiPeer, client: Any) -> None:
    ocpi_peer.reply(envelope(status_code=2001, status_message="Missing required field: type"))
    response = client.post(ocpi_peer.url("/cdrs"), json={})
    assert not response.ok
    assert response.status_code == 2001
    with pytest.raises(OcpiCallError) as caught:
        response.raise_for_status()
    error = caught.value
    assert (error.http_status, error.status_code) == (200, 2001)
    assert error.status_message == "Missing required field: type"
    assert error.response is response
    assert "2001" in str(error)
    assert "Missing required field" in str(error)


def test_envelope_with_an_http_error_status_is_accepted(ocpi_peer: OcpiPeer, client: Any) -> None:
    ocpi_peer.reply(envelope(status_code=2004, status_message="Unknown token"), status=404)
    response = client.post(ocpi_peer.url("/tokens/X/authorize"), json={})
    assert (response.http_status, response.status_code) == (404, 2004)
    assert response.status_message == "Unknown token"
    with pytest.raises(OcpiCallError) as caught:
        response.raise_for_status()
    assert (caught.value.http_status, caught.value.status_code) == (404, 2004)


def test_non_json_error_page_is_a_call_error_without_ocpi_code(
    ocpi_peer: OcpiPeer, client: Any
) -> None:
    ocpi_peer.reply(b"<html>Bad gateway</html>", status=502, content_type="text/html")
    response = client.get(ocpi_peer.url())
    assert response.status_code is None
    assert response.data is None
    with pytest.raises(OcpiCallError) as caught:
        response.raise_for_status()
    assert caught.value.http_status == 502
    assert caught.value.status_code is None
    assert "502" in str(caught.value)


def test_http_401_without_body(ocpi_peer: OcpiPeer, client: Any) -> None:
    ocpi_peer.reply(b"", status=401)
    with pytest.raises(OcpiCallError) as caught:
        client.get(ocpi_peer.url()).raise_for_status()
    assert caught.value.http_status == 401


def test_non_json_success_is_invalid_json(ocpi_peer: OcpiPeer, client: Any) -> None:
    ocpi_peer.reply(b"OK", content_type="text/plain")
    with pytest.raises(OcpiTransportError) as caught:
        client.get(ocpi_peer.url())
    assert caught.value.kind == "invalid_json"
    assert caught.value.http_status == 200
    ocpi_peer.reply(b"")
    with pytest.raises(OcpiTransportError) as caught:
        client.get(ocpi_peer.url())
    assert caught.value.kind == "invalid_json"


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"data": []}', b'{"status_code": "OK"}'])
def test_json_success_without_envelope_is_a_protocol_error(
    ocpi_peer: OcpiPeer, client: Any, body: bytes
) -> None:
    ocpi_peer.reply(body)
    with pytest.raises(OcpiTransportError) as caught:
        client.get(ocpi_peer.url())
    assert caught.value.kind == "protocol"


def test_redirects_are_not_followed(ocpi_peer: OcpiPeer, client: Any) -> None:
    ocpi_peer.reply(b"", status=302, headers={"Location": "http://169.254.169.254/"})
    response = client.get(ocpi_peer.url("/versions"))
    assert response.http_status == 302
    assert not response.ok
    assert "not followed" in response.status_message
    assert len(ocpi_peer.requests) == 1


# -- pagination ----------------------------------------------------------------------------------
def paged(peer: OcpiPeer, *, total: int = 5, size: int = 2) -> None:
    """A paginated server: objects 0..total-1, ``size`` per page, filters repeated in Link."""

    def handler(request: RecordedRequest) -> Reply:
        query = request.query
        offset = int(query.get("offset", ["0"])[0])
        date_from = query["date_from"][0]
        items = [{"id": str(i)} for i in range(offset, min(offset + size, total))]
        headers = [("X-Total-Count", str(total)), ("X-Limit", str(size))]
        if offset + size < total:
            headers.append(
                (
                    "Link",
                    f"<{peer.url('/cdrs')}?date_from={date_from}&offset={offset + size}"
                    f'&limit={size}>; rel="next"',
                )
            )
        return Reply(body=envelope(items), headers=headers)

    peer.handler = handler


def test_crawl_follows_next_links(ocpi_peer: OcpiPeer, client: Any) -> None:
    paged(ocpi_peer)
    pages = list(
        client.crawl(
            ocpi_peer.url("/cdrs"),
            params={"date_from": datetime(2026, 1, 1, tzinfo=UTC)},
            module="cdrs",
        )
    )
    assert [[item["id"] for item in page.data] for page in pages] == [["0", "1"], ["2", "3"], ["4"]]
    assert [page.total_count for page in pages] == [5, 5, 5]
    assert pages[-1].next_url is None
    queries = [r.query for r in ocpi_peer.requests]
    assert [q["date_from"] for q in queries] == [["2026-01-01T00:00:00Z"]] * 3
    assert [q.get("offset") for q in queries] == [None, ["2"], ["4"]]
    # one logical exchange: one correlation id, three request ids
    correlations = {r.headers["X-Correlation-ID"] for r in ocpi_peer.requests}
    assert len(correlations) == 1
    assert len({r.headers["X-Request-ID"] for r in ocpi_peer.requests}) == 3
    assert ExchangeLogEntry.objects.filter(module="cdrs").count() == 3


def test_crawl_refuses_a_link_back_to_a_page_already_fetched(
    ocpi_peer: OcpiPeer, client: Any
) -> None:
    page1 = ocpi_peer.url("/cdrs?offset=0&limit=2")
    page2 = ocpi_peer.url("/cdrs?offset=2&limit=2")
    ocpi_peer.queue(
        Reply(body=envelope([1, 2]), headers={"Link": f'<{page2}>; rel="next"'}),
        Reply(body=envelope([3, 4]), headers={"Link": f'<{page1}>; rel="next"'}),
    )
    seen: list[Any] = []
    with pytest.raises(OcpiTransportError) as caught:
        seen.extend(page.data for page in client.crawl(page1))
    assert caught.value.kind == "protocol"
    assert "already fetched" in str(caught.value)
    assert seen == [[1, 2], [3, 4]]
    assert len(ocpi_peer.requests) == 2


def test_crawl_refuses_a_self_link(ocpi_peer: OcpiPeer, client: Any) -> None:
    url = ocpi_peer.url("/tariffs")
    ocpi_peer.reply(envelope([]), headers={"Link": f'<{url}>; rel="next"'})
    with pytest.raises(OcpiTransportError, match="already fetched"):
        list(client.crawl(url))
    assert len(ocpi_peer.requests) == 1


def test_crawl_refuses_a_link_to_another_server(ocpi_peer: OcpiPeer, client: Any) -> None:
    ocpi_peer.reply(envelope([]), headers={"Link": '<http://127.0.0.2:1/cdrs>; rel="next"'})
    with pytest.raises(OcpiTransportError, match="another server"):
        list(client.crawl(ocpi_peer.url("/cdrs")))
    assert len(ocpi_peer.requests) == 1


def test_crawl_stops_after_max_pages(ocpi_peer: OcpiPeer, client: Any) -> None:
    def endless(request: RecordedRequest) -> Reply:
        offset = int(request.query.get("offset", ["0"])[0])
        link = f'<{ocpi_peer.url("/x")}?offset={offset + 1}>; rel="next"'
        return Reply(body=envelope([offset]), headers={"Link": link})

    ocpi_peer.handler = endless
    with pytest.raises(OcpiTransportError, match="more than 3 pages"):
        list(client.crawl(ocpi_peer.url("/x"), max_pages=3))
    assert len(ocpi_peer.requests) == 3


def test_crawl_raises_on_a_failed_page(ocpi_peer: OcpiPeer, client: Any) -> None:
    page2 = ocpi_peer.url("/cdrs?offset=2")
    ocpi_peer.queue(
        Reply(body=envelope([1]), headers={"Link": f'<{page2}>; rel="next"'}),
        Reply(body=envelope(status_code=3000, status_message="db down")),
    )
    pages = client.crawl(ocpi_peer.url("/cdrs"))
    assert next(pages).data == [1]
    with pytest.raises(OcpiCallError, match="db down"):
        next(pages)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (['<https://s/cdrs?offset=2>; rel="next"'], "https://s/cdrs?offset=2"),
        (["<https://s/cdrs?offset=2>;rel=next"], "https://s/cdrs?offset=2"),
        (['<https://s/a>; rel="prev", <https://s/b>; rel="next"'], "https://s/b"),
        (['<https://s/a>; rel="last"', '<https://s/b>; title="x, y"; REL="Next"'], "https://s/b"),
        (['<https://s/b?x=1,2>; rel="next last"'], "https://s/b?x=1,2"),
        (['</ocpi/cdrs?offset=4>; rel="next"'], "https://partner/ocpi/cdrs?offset=4"),
        (['<https://s/a>; rel="prev"'], None),
        (["garbage"], None),
        ([], None),
    ],
)
def test_link_header_parsing(values: list[str], expected: str | None) -> None:
    assert parse_next_link(values, base_url="https://partner/ocpi/cdrs") == expected


# -- limits --------------------------------------------------------------------------------------
@override_settings(OCPI_OUTBOUND_MAX_RESPONSE_BYTES=2048)
def test_response_size_limit_with_content_length(ocpi_peer: OcpiPeer, client: Any) -> None:
    ocpi_peer.reply(envelope("x" * 5000))
    with pytest.raises(OcpiTransportError) as caught:
        client.get(ocpi_peer.url())
    assert caught.value.kind == "too_large"
    entry = ExchangeLogEntry.objects.get()
    assert entry.error.startswith("too_large")
    assert entry.http_status == 200


@override_settings(OCPI_OUTBOUND_MAX_RESPONSE_BYTES=2048)
def test_response_size_limit_while_streaming(ocpi_peer: OcpiPeer, client: Any) -> None:
    ocpi_peer.reply(b"", chunks=[b"x" * 1000] * 10)  # chunked: no Content-Length to trust
    with pytest.raises(OcpiTransportError) as caught:
        client.get(ocpi_peer.url())
    assert caught.value.kind == "too_large"
    assert ExchangeLogEntry.objects.get().response_size <= 3000

    ocpi_peer.reply(b"", chunks=[envelope("y" * 500)])  # within the limit
    assert client.get(ocpi_peer.url()).data == "y" * 500


def test_timeout(ocpi_peer: OcpiPeer) -> None:
    ocpi_peer.reply(envelope(), delay=2)
    started = time.monotonic()
    with (
        OcpiClient(token=TOKEN, timeout=0.3) as ocpi_client,
        pytest.raises(OcpiTransportError) as caught,
    ):
        ocpi_client.get(ocpi_peer.url())
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 1.5
    entry = ExchangeLogEntry.objects.get()
    assert entry.http_status is None
    assert entry.error.startswith("timeout")


def test_a_server_dripping_bytes_hits_the_total_deadline(ocpi_peer: OcpiPeer) -> None:
    ocpi_peer.reply(b"", chunks=[b" "] * 40, chunk_delay=0.05)  # 2 s, one byte per 50 ms
    started = time.monotonic()
    with (
        OcpiClient(token=TOKEN, timeout=0.2) as ocpi_client,
        pytest.raises(OcpiTransportError) as caught,
    ):
        ocpi_client.get(ocpi_peer.url())
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 1.5


def test_connection_refused(client: Any) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OcpiTransportError) as caught:
        client.get(f"http://127.0.0.1:{port}/versions")
    assert caught.value.kind == "connection"


# -- the outbound URL guard ----------------------------------------------------------------------
@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
@pytest.mark.parametrize("path_style", ["http", "https"])
def test_local_urls_are_refused_in_production(
    ocpi_peer: OcpiPeer, client: Any, path_style: str
) -> None:
    url = ocpi_peer.url("/versions").replace("http:", f"{path_style}:")
    with pytest.raises(OcpiTransportError) as caught:
        client.get(url)
    assert caught.value.kind == "unsafe_url"
    assert ocpi_peer.requests == []
    entry = ExchangeLogEntry.objects.get()
    assert entry.error.startswith("unsafe_url")
    assert entry.http_status is None


def test_local_urls_are_allowed_in_development(ocpi_peer: OcpiPeer, client: Any) -> None:
    assert client.get(ocpi_peer.url("/versions")).ok
    check_outbound_url("http://10.0.0.1/ocpi")
    check_outbound_url("http://localhost:8000/ocpi")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://127.8.9.10/",
        "https://10.0.0.1/ocpi/versions",
        "https://172.16.5.4/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://224.0.0.1/",
        "https://240.0.0.1/",
        "https://255.255.255.255/",
        "https://192.0.2.1/",
        "https://[::1]/",
        "https://[::]/",
        "https://[fe80::1]/",
        "https://[fc00::1]/",
        "https://[ff02::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[::ffff:127.0.0.1]:8443/",
        "https://[::ffff:169.254.169.254]/",
        "https://[2002:a00:1::]/",  # 6to4 around 10.0.0.1
        "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 around 169.254.169.254
        "https://2130706433/",  # 127.0.0.1 as one number
    ],
)
@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrlError, match="non-public"):
        check_outbound_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://8.8.8.8/",
        "file:///etc/passwd",
        "//8.8.8.8/",
        "https:///nohost",
        "https://user:secret@8.8.8.8/",
        "https://8.8.8.8:99999/",
        "http://8.8.8.8/",
    ],
)
@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
def test_malformed_or_plain_http_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrlError):
        check_outbound_url(url)


@pytest.mark.parametrize(
    "url", ["https://8.8.8.8/ocpi", "https://[2606:4700:4700::1111]:8443/", "HTTPS://1.1.1.1"]
)
@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
def test_public_addresses_pass(url: str) -> None:
    check_outbound_url(url)


def fake_dns(answers: dict[str, list[str]]) -> Any:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    return getaddrinfo


@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
def test_host_names_are_checked_on_every_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        fake_dns(
            {
                "public.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
                "sneaky.example": ["93.184.215.14", "10.1.2.3"],
                "scoped.example": ["fe80::1%eth0"],
            }
        ),
    )
    check_outbound_url("https://public.example/ocpi/versions")
    with pytest.raises(UnsafeUrlError, match=r"10\.1\.2\.3"):
        check_outbound_url("https://sneaky.example/ocpi/versions")
    with pytest.raises(UnsafeUrlError, match="non-public"):
        check_outbound_url("https://scoped.example/")
    with pytest.raises(UnresolvableHostError):
        check_outbound_url("https://nowhere.example/")


@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
def test_unresolvable_host_is_a_connection_error(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_dns({}))
    with pytest.raises(OcpiTransportError) as caught:
        client.get("https://nowhere.example/ocpi/versions")
    assert caught.value.kind == "connection"


# -- the exchange log ----------------------------------------------------------------------------
def test_every_call_is_logged(ocpi_peer: OcpiPeer) -> None:
    connection = ConnectionFactory.create()
    ocpi_peer.queue(
        Reply(body=envelope({"id": "1"}), status=201),
        Reply(body=envelope(status_code=2001, status_message="bad id")),
        Reply(body=b"oops", status=500, content_type="text/plain"),
    )
    with OcpiClient(token=TOKEN, connection=connection, timeout=5) as ocpi_client:
        ok = ocpi_client.put(ocpi_peer.url("/cdrs/1"), json={"id": "1"}, module="cdrs")
        refused = ocpi_client.put(ocpi_peer.url("/cdrs/2"), json={"id": "1"}, module="cdrs")
        broken = ocpi_client.get(ocpi_peer.url("/cdrs"), module="cdrs", correlation_id="c-1")

    entries = list(ExchangeLogEntry.objects.order_by("pk"))
    assert len(entries) == 3
    for entry, response in zip(entries, (ok, refused, broken), strict=True):
        assert entry.direction == Direction.OUTBOUND
        assert entry.connection == connection
        assert entry.module == "cdrs"
        assert entry.request_id == response.request_id
        assert entry.correlation_id == response.correlation_id
        assert entry.response_size == len(response.body)
        assert entry.duration_ms is not None
        assert entry.duration_ms >= 0
        assert entry.request_body == ""  # log_bodies is off
        assert entry.response_body == ""
    assert [(e.method, e.http_status, e.ocpi_status) for e in entries] == [
        ("PUT", 201, 1000),
        ("PUT", 200, 2001),
        ("GET", 500, None),
    ]
    assert entries[0].url == ocpi_peer.url("/cdrs/1")
    assert entries[0].request_size == len(b'{"id":"1"}')
    assert entries[0].error == ""
    assert entries[1].error == "bad id"
    assert "500" in entries[2].error
    assert entries[2].request_size == 0
    assert entries[2].correlation_id == "c-1"


def test_bodies_are_logged_only_when_switched_on_and_tokens_are_redacted(
    ocpi_peer: OcpiPeer,
) -> None:
    secret_theirs = "their-secret-token-C"
    secret_ours = "our-secret-token-B"
    connection = ConnectionFactory.create(log_bodies=True)
    ocpi_peer.reply(
        envelope({"token": secret_theirs, "url": "https://p/versions", "roles": []}),
    )
    with OcpiClient(token=TOKEN, connection=connection, timeout=5) as ocpi_client:
        ocpi_client.post(
            ocpi_peer.url("/credentials"),
            json={"token": secret_ours, "url": "https://us/versions", "price": Decimal("0.10")},
            module="credentials",
        )
    entry = ExchangeLogEntry.objects.get()
    assert entry.request_body == ('{"token":"[redacted]","url":"https://us/versions","price":0.10}')
    assert '"token":"[redacted]"' in entry.response_body
    assert "https://p/versions" in entry.response_body
    stored = " ".join(
        str(getattr(entry, f.attname)) for f in ExchangeLogEntry._meta.concrete_fields
    )
    for secret in (secret_theirs, secret_ours, TOKEN, "ZXhhbXBsZS10b2tlbg=="):
        assert secret not in stored
    assert entry.request_size == len(ocpi_peer.last.body)


def test_an_http_next_link_on_the_same_host_is_followed_over_https() -> None:
    page = OcpiResponse(
        http_status=200,
        headers=httpx.Headers({"Link": '<http://p.example/cdrs?offset=2>; rel="next"'}),
        body=b"",
        data=[],
        status_code=1000,
        status_message="",
        timestamp=None,
        request_id="r",
        correlation_id="c",
        method="GET",
        url="https://p.example/cdrs",
    )
    assert OcpiClient.checked_next_url(page, {page.url}) == "https://p.example/cdrs?offset=2"
    page.headers = httpx.Headers({"Link": '<http://p.example:8080/cdrs>; rel="next"'})
    with pytest.raises(OcpiTransportError, match="another server"):
        OcpiClient.checked_next_url(page, {page.url})
