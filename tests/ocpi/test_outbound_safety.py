"""Outbound safety: the checked address is the one we connect to, what partners are told about
refused URLs, and TLS to a pinned address still verifies the host name.

Everything runs against real listeners on 127.0.0.1; only the DNS answers are scripted (a
resolver that answers differently on the second lookup is what DNS rebinding is).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client, override_settings

from apps.ocpi.common.client import OcpiClient, OcpiTransportError, PinnedTransport
from apps.ocpi.common.netguard import NOT_REACHABLE, UnsafeUrlError, check_outbound_url
from apps.ocpi.models import ExchangeLogEntry
from apps.ocpi.services.handshake import connection_invite
from apps.ocpi.versions import VersionNumber
from apps.partners.enums import ConnectionStatus
from tests.factories import PartnerFactory
from tests.ocpi.httpserver import OcpiPeer, RecordedRequest, Reply, envelope

pytestmark = pytest.mark.django_db

TOKEN = "outbound-safety-token"
PUBLIC = "93.184.215.14"
V = VersionNumber.V2_2_1.value
_real_getaddrinfo = socket.getaddrinfo


def scripted_dns(answer: Callable[[str, int], str], lookups: list[str]) -> Callable[..., Any]:
    """A resolver for ``socket.getaddrinfo``: names get ``answer(name, nth lookup)``, numeric
    addresses resolve as usual (connecting to an IP still goes through getaddrinfo)."""

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        try:
            ipaddress.ip_address(str(host))
        except ValueError:
            pass
        else:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(str(host))
        address = answer(str(host), len(lookups))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

    return getaddrinfo


@dataclass
class Listener:
    """A TCP listener on 127.0.0.1 that records every connection it accepts."""

    sock: socket.socket
    accepted: list[tuple[str, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(peer)
            conn.close()


@pytest.fixture
def loopback_listener() -> Iterator[Listener]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.05)
    listener = Listener(sock)
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    yield listener
    listener.stop.set()
    thread.join(timeout=2)
    sock.close()


# -- 1. DNS rebinding ----------------------------------------------------------------------------
@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
def test_dns_rebinding_cannot_reach_a_loopback_listener(
    monkeypatch: pytest.MonkeyPatch, loopback_listener: Listener
) -> None:
    lookups: list[str] = []
    # Public for the guard's lookup, loopback for any later one (the rebinding attack).
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        scripted_dns(lambda _h, n: PUBLIC if n == 1 else "127.0.0.1", lookups),
    )
    url = f"https://rebind.example:{loopback_listener.port}/ocpi/versions"
    with OcpiClient(token=TOKEN, timeout=1) as client, pytest.raises(OcpiTransportError) as caught:
        client.get(url)

    assert loopback_listener.accepted == []
    assert lookups == ["rebind.example"]  # resolved once, by the guard; the connection reused it
    assert caught.value.kind in ("connection", "timeout")
    assert ExchangeLogEntry.objects.get().url == url


@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
def test_the_pinned_backend_refuses_a_host_the_guard_did_not_vet(
    loopback_listener: Listener,
) -> None:
    import httpx

    with httpx.Client(transport=PinnedTransport()) as raw, pytest.raises(httpx.ConnectError):
        raw.get(f"http://127.0.0.1:{loopback_listener.port}/")
    assert loopback_listener.accepted == []


# -- TLS to a pinned address ---------------------------------------------------------------------
def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class TlsServer:
    """One-request-per-connection HTTPS server on 127.0.0.1 recording SNI and Host."""

    context: ssl.SSLContext
    sock: socket.socket
    server_names: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(2)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(2)
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                    for line in head.decode("latin-1").split("\r\n")[1:]:
                        if line.lower().startswith("host:"):
                            self.hosts.append(line.split(":", 1)[1].strip())
                    body = envelope([])
                    tls.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                        + body
                    )
            except (OSError, ssl.SSLError):
                continue


def _tls_server(cert: Path, key: Path) -> tuple[TlsServer, threading.Thread]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.05)
    server = TlsServer(context, sock)
    context.sni_callback = lambda _s, name, _c: server.server_names.append(name)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    return server, thread


@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True)  # the guard itself would refuse 127.0.0.1
@pytest.mark.parametrize("served_name", ["partner.test", "other.test"])
def test_a_pinned_connection_keeps_host_sni_and_certificate_checks_for_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served_name: str
) -> None:
    cert, key = _self_signed(tmp_path, served_name)
    server, thread = _tls_server(cert, key)
    lookups: list[str] = []
    monkeypatch.setattr(
        socket, "getaddrinfo", scripted_dns(lambda h, _n: pytest.fail(f"looked up {h}"), lookups)
    )
    import httpx

    transport = PinnedTransport(verify=ssl.create_default_context(cafile=str(cert)))
    url = f"https://partner.test:{server.port}/ocpi/versions"
    transport.pin(httpx.URL(url), [ipaddress.ip_address("127.0.0.1")])
    try:
        with OcpiClient(token=TOKEN, transport=transport, timeout=2) as client:
            if served_name == "partner.test":
                assert client.get(url).ok
                assert server.hosts == [f"partner.test:{server.port}"]
            else:  # the certificate is checked against the name, not the pinned address
                with pytest.raises(OcpiTransportError, match="CERTIFICATE_VERIFY_FAILED"):
                    client.get(url)
                assert server.hosts == []
    finally:
        server.stop.set()
        thread.join(timeout=2)
        server.sock.close()
    assert server.server_names == ["partner.test"]
    assert lookups == []


# -- 2. what partners are told -------------------------------------------------------------------
@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
@pytest.mark.parametrize(
    "url", ["https://localhost/ocpi/versions", "https://127.0.0.1:5432/", "https://[::1]:6379/"]
)
def test_refusals_tell_partners_nothing_about_our_network(url: str) -> None:
    with pytest.raises(UnsafeUrlError) as caught:
        check_outbound_url(url)
    assert "non-public" in caught.value.message  # operators see why
    assert caught.value.public_message == NOT_REACHABLE


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def _credentials(url: str) -> dict[str, Any]:
    return {
        "token": "token-B-from-partner",
        "url": url,
        "roles": [
            {
                "role": "EMSP",
                "party_id": "ABC",
                "country_code": "BE",
                "business_details": {"name": "ABC Mobility"},
            }
        ],
    }


@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
@pytest.mark.parametrize(
    "versions_url",
    ["https://localhost/ocpi/versions", "https://127.0.0.1:5432/", "https://[::1]:6379/versions"],
)
def test_a_credentials_post_with_an_internal_url_learns_nothing_about_our_network(
    client: Client, loopback_listener: Listener, versions_url: str
) -> None:
    connection, token_a = connection_invite(partner=PartnerFactory.create())
    response = client.post(
        f"/ocpi/{V}/credentials",
        _credentials(versions_url),
        content_type="application/json",
        headers=_auth(token_a),
    )
    answer = response.json()
    assert answer["status_code"] == 3001
    assert answer["status_message"] == (
        f"cannot GET the partner's versions at {versions_url}: {NOT_REACHABLE}"
    )
    # The operator's view keeps the reason.
    connection.refresh_from_db()
    assert "non-public address" in connection.last_error
    assert connection.status == ConnectionStatus.PENDING
    assert loopback_listener.accepted == []


@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=False)
def test_a_closed_port_and_an_open_one_answer_alike(
    client: Client, monkeypatch: pytest.MonkeyPatch, loopback_listener: Listener
) -> None:
    """Whether a public host refuses, times out or cannot be resolved: one message."""
    lookups: list[str] = []
    answers = {"refuses.example": PUBLIC}
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        scripted_dns(
            lambda h, _n: answers.get(h) or (_ for _ in ()).throw(socket.gaierror(-2, "no")),
            lookups,
        ),
    )
    messages = []
    for host in ("refuses.example", "unknown.example"):
        connection, token_a = connection_invite(partner=PartnerFactory.create())
        response = client.post(
            f"/ocpi/{V}/credentials",
            _credentials(f"https://{host}:{loopback_listener.port}/v"),
            content_type="application/json",
            headers=_auth(token_a),
        )
        messages.append(response.json()["status_message"].replace(host, "HOST"))
        connection.refresh_from_db()
        assert connection.last_error  # the detail, for operators
    assert messages[0] == messages[1]
    assert messages[0].endswith(NOT_REACHABLE)


# -- 3. endpoint URLs are checked at the handshake ------------------------------------------------
@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True)  # the partner runs on 127.0.0.1 here
@pytest.mark.parametrize(
    ("endpoint_url", "words"),
    [
        ("http://user:secret@127.0.0.1:1/ocpi/locations", "user info"),
        ("ftp://127.0.0.1/ocpi/locations", "HTTPS required"),
    ],
)
def test_endpoint_urls_are_checked_when_the_partner_registers(
    client: Client, ocpi_peer: OcpiPeer, endpoint_url: str, words: str
) -> None:
    def handle(request: RecordedRequest) -> Reply:
        if request.path == "/ocpi/versions":
            return Reply(body=envelope([{"version": V, "url": ocpi_peer.url(f"/ocpi/{V}")}]))
        endpoints = [
            {"identifier": "credentials", "role": "RECEIVER", "url": ocpi_peer.url("/c")},
            {"identifier": "locations", "role": "RECEIVER", "url": endpoint_url},
        ]
        return Reply(body=envelope({"version": V, "endpoints": endpoints}))

    ocpi_peer.handler = handle
    connection, token_a = connection_invite(partner=PartnerFactory.create())
    response = client.post(
        f"/ocpi/{V}/credentials",
        _credentials(ocpi_peer.url("/ocpi/versions")),
        content_type="application/json",
        headers=_auth(token_a),
    )
    answer = response.json()
    assert answer["status_code"] == 3001
    assert "endpoint locations" in answer["status_message"]
    assert words in answer["status_message"]
    assert "secret" not in answer["status_message"]
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.PENDING
    assert connection.endpoints == []
    assert connection.send_token is None
    assert "secret" not in connection.last_error
