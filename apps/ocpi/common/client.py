"""The outbound OCPI client: one synchronous HTTP exchange with a partner, done carefully.

Every call:

* checks the URL first (HTTPS, public address: :mod:`apps.ocpi.common.netguard`) and connects
  only to the addresses that check vetted (:class:`PinnedTransport`: no second DNS lookup);
* sends ``Authorization: Token <base64(token)>`` (or the raw token for partners that still use
  the pre-2.2 dialect), a fresh ``X-Request-ID``, an ``X-Correlation-ID`` and, for functional
  modules, the four ``OCPI-to/from-*`` routing headers;
* renders the body with :func:`apps.ocpi.common.jsonutil.dumps` and parses the answer with
  :func:`~apps.ocpi.common.jsonutil.loads`, so numbers stay ``Decimal`` both ways;
* streams the answer and gives up beyond ``OCPI_OUTBOUND_MAX_RESPONSE_BYTES``;
* never follows redirects (a redirect would take our token to another host unchecked);
* writes one exchange log row, whatever the outcome.

Errors: :class:`OcpiTransportError` when there is no usable OCPI answer (timeout, connection,
too large, a 2xx that is not an OCPI envelope, unsafe URL), with a ``public_message`` that may be
told to the partner (never what a name resolves to or whether a port answers); the partner's
answer otherwise, as an
:class:`OcpiResponse` whose :meth:`~OcpiResponse.raise_for_status` raises :class:`OcpiCallError`
unless HTTP is 2xx and OCPI is 1xxx. As the spec advises, a client is lenient: an envelope is
accepted with any HTTP status.
"""

from __future__ import annotations

import base64
import logging
import re
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpcore
import httpx
from django.conf import settings
from django.db import DatabaseError, transaction

from apps.ocpi.common import jsonutil
from apps.ocpi.common.netguard import (
    NOT_REACHABLE,
    IPAddress,
    UnresolvableHostError,
    UnsafeUrlError,
    check_outbound_url,
)
from apps.ocpi.common.timestamps import InvalidTimestamp, format_ocpi_datetime, parse_ocpi_datetime
from apps.ocpi.models import Direction
from apps.ocpi.services.exchange_log import exchange_log_record
from apps.partners.models import PartnerConnection, Party

logger = logging.getLogger(__name__)

TransportErrorKind = Literal[
    "timeout", "connection", "too_large", "invalid_json", "unsafe_url", "protocol"
]

_Fail = Callable[[TransportErrorKind, str], "OcpiTransportError"]

USER_AGENT = "roamdesk"
#: The whole exchange (connect, send, every read) must end within this many times the timeout:
#: the per-read timeout alone lets a server that drips one byte at a time hold a worker forever.
TOTAL_DEADLINE_FACTOR = 3


# -- errors --------------------------------------------------------------------------------------
class OcpiTransportError(Exception):
    """No usable OCPI answer: ``kind`` says why (see :data:`TransportErrorKind`)."""

    def __init__(
        self,
        kind: TransportErrorKind,
        message: str,
        *,
        method: str = "",
        url: str = "",
        request_id: str = "",
        correlation_id: str = "",
        http_status: int | None = None,
        public_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: TransportErrorKind = kind
        self.message = message
        #: What the partner may be told: the operator's ``message`` may say what a host name
        #: resolves to or that a port refused the connection; this never does.
        self.public_message = _public_message(kind, message, public_message)
        self.method = method
        self.url = url
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.http_status = http_status

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.url else ""
        return f"{self.kind}: {self.message}{where}"


def _public_message(kind: TransportErrorKind, message: str, public: str | None) -> str:
    if public is not None:
        return public
    if kind in ("connection", "timeout", "unsafe_url"):
        return NOT_REACHABLE
    return message


class OcpiCallError(Exception):
    """The partner answered, but not with HTTP 2xx + OCPI 1xxx."""

    def __init__(self, response: OcpiResponse) -> None:
        self.response = response
        self.http_status = response.http_status
        self.status_code = response.status_code
        self.status_message = response.status_message
        ocpi = f"OCPI {self.status_code}" if self.status_code is not None else "no OCPI envelope"
        detail = f": {self.status_message}" if self.status_message else ""
        super().__init__(
            f"{response.method} {response.url} → HTTP {self.http_status}, {ocpi}{detail}"
        )


# -- request and response ------------------------------------------------------------------------
@dataclass(frozen=True)
class RoutingHeaders:
    """The OCPI message routing headers (functional modules only, never credentials/versions).

    An empty ``to_*`` pair is omitted (open routing through a hub).
    """

    to_country_code: str
    to_party_id: str
    from_country_code: str
    from_party_id: str

    @classmethod
    def between(cls, sender: Party, recipient: Party | None) -> RoutingHeaders:
        """From ``sender`` to ``recipient`` (None: open routing, no to-headers)."""
        return cls(
            to_country_code=recipient.country_code if recipient else "",
            to_party_id=recipient.party_id if recipient else "",
            from_country_code=sender.country_code,
            from_party_id=sender.party_id,
        )

    def as_headers(self) -> dict[str, str]:
        headers = {}
        if self.to_country_code or self.to_party_id:
            headers["OCPI-to-country-code"] = self.to_country_code.upper()
            headers["OCPI-to-party-id"] = self.to_party_id.upper()
        headers["OCPI-from-country-code"] = self.from_country_code.upper()
        headers["OCPI-from-party-id"] = self.from_party_id.upper()
        return headers


# `<url>` followed by `; name=value` or `; name="value"` parameters.
_LINK_VALUE = re.compile(r'<(?P<url>[^>]*)>(?P<params>(?:\s*;\s*(?:[^;,<"]|"[^"]*")*)*)')
_LINK_PARAM = re.compile(
    r';\s*(?P<name>[^=;\s]+)\s*(?:=\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>[^;\s]*)))?'
)


def parse_next_link(values: list[str], *, base_url: str = "") -> str | None:
    """The ``rel="next"`` target of ``Link`` header values, resolved against ``base_url``."""
    for value in values:
        for match in _LINK_VALUE.finditer(value):
            for param in _LINK_PARAM.finditer(match["params"]):
                if param["name"].lower() != "rel":
                    continue
                rels = (param["quoted"] or param["bare"] or "").lower().split()
                if "next" in rels:
                    url = match["url"].strip()
                    return urljoin(base_url, url) if base_url else url
    return None


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name, "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


@dataclass
class OcpiResponse:
    """A partner's answer. ``data``, ``status_code``, ``status_message`` and ``timestamp`` come
    from the OCPI envelope (``None``/empty when the body was not one)."""

    http_status: int
    headers: httpx.Headers
    body: bytes
    data: Any
    status_code: int | None
    status_message: str
    timestamp: datetime | None
    request_id: str
    correlation_id: str
    method: str = ""
    url: str = ""
    duration_ms: int = 0
    #: The whole parsed body, ``None`` when it was not JSON.
    document: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return (
            200 <= self.http_status < 300
            and self.status_code is not None
            and 1000 <= self.status_code < 2000
        )

    @property
    def next_url(self) -> str | None:
        """The next page (``Link: <...>; rel="next"``), absolute, or ``None`` on the last page."""
        return parse_next_link(self.headers.get_list("link"), base_url=self.url)

    @property
    def total_count(self) -> int | None:
        return _header_int(self.headers, "X-Total-Count")

    @property
    def limit(self) -> int | None:
        return _header_int(self.headers, "X-Limit")

    def raise_for_status(self) -> Self:
        """Raise :class:`OcpiCallError` unless HTTP 2xx and OCPI 1xxx; return ``self``."""
        if not self.ok:
            raise OcpiCallError(self)
        return self


@dataclass
class _Attempt:
    """What the exchange log row of one attempt will say."""

    method: str
    url: str
    module: str
    request_id: str
    correlation_id: str
    request_body: bytes | None
    http_status: int | None = None
    ocpi_status: int | None = None
    response_body: bytes | None = None
    error: str = ""


def _status_code(value: Any) -> int | None:
    """The envelope's status_code as an int; tolerates 1000.0 and "1000", not booleans."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_ocpi_datetime(value)
    except InvalidTimestamp:
        return None


def _query_value(value: Any) -> str:
    if isinstance(value, datetime):
        return format_ocpi_datetime(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _query(params: Mapping[str, Any]) -> list[tuple[str, str | int | float | bool | None]]:
    return [(key, _query_value(value)) for key, value in params.items() if value is not None]


def _without_userinfo(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


# -- connecting to vetted addresses only ---------------------------------------------------------
def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80


class PinnedBackend(httpcore.SyncBackend):
    """Opens TCP connections only to the addresses the URL guard vetted for a host.

    httpcore hands the host *name* to the backend, so TLS (SNI, certificate check) and the Host
    header stay with the name; only the address is ours to choose. A host without vetted
    addresses is refused, except in development (``OCPI_OUTBOUND_ALLOW_LOCAL``), where the guard
    resolves nothing and the system resolver decides.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pins: dict[tuple[str, int], tuple[str, ...]] = {}

    def pin(self, host: str, port: int, addresses: list[IPAddress]) -> None:
        self._pins[(host.lower(), port)] = tuple(str(address) for address in addresses)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        addresses = self._pins.get((host.lower(), port))
        if addresses is None:
            if settings.OCPI_OUTBOUND_ALLOW_LOCAL:
                return super().connect_tcp(host, port, timeout, local_address, socket_options)
            raise httpcore.ConnectError(f"{host}:{port} was not vetted by the outbound URL guard")
        refused: httpcore.ConnectError | None = None
        for address in addresses:  # numeric: create_connection does no DNS lookup for these
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectTimeout:
                raise
            except httpcore.ConnectError as exc:
                refused = exc
        assert refused is not None  # the guard never vets an empty list
        raise refused


class PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport, connecting through a :class:`PinnedBackend`.

    ``verify`` is httpx's (a CA bundle in tests). Connections are pooled per host name, so a
    connection verified for one name is never reused for another name on the same address.
    """

    def __init__(self, *, verify: ssl.SSLContext | str | bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        self.backend = PinnedBackend()
        limits = httpx.Limits()
        # httpx has no parameter for the network backend: the pool it built is replaced by the
        # same pool with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )

    def pin(self, url: httpx.URL, addresses: list[IPAddress]) -> None:
        """Connect to ``addresses`` (and only those) for ``url``'s host and port."""
        port = url.port or _default_port(url.scheme)
        self.backend.pin(url.raw_host.decode("ascii"), port, addresses)


# -- the client ----------------------------------------------------------------------------------
class OcpiClient:
    """Synchronous OCPI client for one credentials token. Reuse it for a batch of calls (it keeps
    connections alive) and close it afterwards (or use it as a context manager).

    ``connection`` is only used for the exchange log (which connection, whether bodies are kept).
    ``transport`` is for tests and special set-ups; the default is a :class:`PinnedTransport`
    (pass one to choose its CA bundle), and any other transport connects as it likes.
    """

    def __init__(
        self,
        *,
        token: str,
        raw_token: bool = False,
        connection: PartnerConnection | None = None,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise ValueError("an OCPI client needs a credentials token")
        if raw_token:
            if not all("!" <= ch <= "~" for ch in token):
                raise ValueError("a raw credentials token must be printable ASCII without spaces")
            self._authorization = f"Token {token}"
        else:
            self._authorization = f"Token {base64.b64encode(token.encode()).decode('ascii')}"
        self.connection = connection
        self.timeout = float(settings.OCPI_OUTBOUND_TIMEOUT if timeout is None else timeout)
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if transport is None:
            transport = PinnedTransport()
        self._pinned = transport if isinstance(transport, PinnedTransport) else None
        self._http = httpx.Client(
            timeout=httpx.Timeout(self.timeout),  # connect, read, write and pool alike
            follow_redirects=False,
            transport=transport,
            # Environment proxies and .netrc must not decide where our token goes.
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    @classmethod
    def for_connection(
        cls,
        connection: PartnerConnection,
        *,
        raw_token: bool = False,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> OcpiClient:
        """A client that authenticates with the token the connection sends to the partner."""
        token = connection.send_token
        if not token:
            raise ValueError(f"connection {connection.pk} has no token to send")
        return cls(
            token=token,
            raw_token=raw_token,
            connection=connection,
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- shortcuts: request() with the method filled in; options as for request() -----------
    def get(self, url: str, **options: Any) -> OcpiResponse:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> OcpiResponse:
        return self.request("POST", url, **options)

    def put(self, url: str, **options: Any) -> OcpiResponse:
        return self.request("PUT", url, **options)

    def patch(self, url: str, **options: Any) -> OcpiResponse:
        return self.request("PATCH", url, **options)

    def delete(self, url: str, **options: Any) -> OcpiResponse:
        return self.request("DELETE", url, **options)

    def crawl(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        module: str = "",
        max_pages: int = 10_000,
        routing: RoutingHeaders | None = None,
        correlation_id: str | None = None,
    ) -> Iterator[OcpiResponse]:
        """GET ``url`` and every page its ``Link: rel="next"`` headers lead to, in order.

        Each page is checked with :meth:`OcpiResponse.raise_for_status`. The pages share one
        correlation id. The crawl ends without error only on a page with no next link: a next
        link to a page already fetched, to another host, or beyond ``max_pages`` raises
        :class:`OcpiTransportError` (kind ``protocol``), because a caller that treats the pages
        as the complete list must not be handed a partial one.

        A next link with ``http://`` on the host we called over ``https://`` is followed over
        HTTPS (servers behind a TLS-terminating proxy often build such links).
        """
        correlation_id = correlation_id or str(uuid.uuid4())
        seen: set[str] = set()
        next_url: str | None = url
        page_params = params
        pages = 0
        while next_url is not None:
            if pages >= max_pages:
                raise OcpiTransportError(
                    "protocol", f"more than {max_pages} pages; stopping", method="GET", url=url
                )
            response = self.get(
                next_url,
                params=page_params,
                routing=routing,
                module=module,
                correlation_id=correlation_id,
            ).raise_for_status()
            seen.add(response.url)
            pages += 1
            page_params = None  # the next link repeats the filters
            yield response
            next_url = self.checked_next_url(response, seen)

    @staticmethod
    def checked_next_url(response: OcpiResponse, seen: set[str]) -> str | None:
        link = response.next_url
        if link is None:
            return None
        scheme, host, _port = _origin(response.url)
        link_scheme, link_host, _ = _origin(link)
        if scheme == "https" and link_scheme == "http" and link_host == host:
            link = urlunsplit(urlsplit(link)._replace(scheme="https"))
        if _origin(link) != _origin(response.url):
            raise OcpiTransportError(
                "protocol",
                f"next page link {link!r} points to another server; refusing to follow",
                method="GET",
                url=response.url,
            )
        try:
            normalized = str(httpx.URL(link))
        except httpx.InvalidURL as exc:
            raise OcpiTransportError(
                "protocol", f"next page link {link!r} is not a URL: {exc}", url=response.url
            ) from exc
        if normalized in seen:
            raise OcpiTransportError(
                "protocol",
                f"next page link {link!r} repeats a page already fetched",
                method="GET",
                url=response.url,
            )
        return link

    # -- the exchange ------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        routing: RoutingHeaders | None = None,
        module: str = "",
        correlation_id: str | None = None,
    ) -> OcpiResponse:
        """One exchange. Returns the partner's answer whatever its HTTP and OCPI status; raises
        :class:`OcpiTransportError` when there is none to return."""
        method = method.upper()
        request_id = str(uuid.uuid4())
        correlation_id = correlation_id or str(uuid.uuid4())
        body = jsonutil.dumps(json) if json is not None else None
        headers = {
            "Authorization": self._authorization,
            "X-Request-ID": request_id,
            "X-Correlation-ID": correlation_id,
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        if routing is not None:
            headers.update(routing.as_headers())
        attempt = _Attempt(
            method=method,
            url=_without_userinfo(url),
            module=module,
            request_id=request_id,
            correlation_id=correlation_id,
            request_body=body,
        )

        def fail(
            kind: TransportErrorKind, message: str, public_message: str | None = None
        ) -> OcpiTransportError:
            attempt.error = f"{kind}: {message}"
            return OcpiTransportError(
                kind,
                message,
                method=method,
                url=attempt.url,
                request_id=request_id,
                correlation_id=correlation_id,
                http_status=attempt.http_status,
                public_message=public_message,
            )

        started = time.monotonic()
        try:
            try:
                target = httpx.URL(url)
                # The guard checks the URL as httpx will use it (an IDN host as punycode), so the
                # vetted addresses are pinned under the name the connection is made for.
                addresses = check_outbound_url(str(target))
                if params:
                    # Added to the URL's own query (httpx alone would replace it).
                    target = target.copy_merge_params(_query(params))
                outgoing = self._http.build_request(method, target, headers=headers, content=body)
            except UnresolvableHostError as exc:
                raise fail("connection", str(exc), exc.public_message) from exc
            except UnsafeUrlError as exc:
                raise fail("unsafe_url", str(exc), exc.public_message) from exc
            except httpx.InvalidURL as exc:
                raise fail("unsafe_url", str(exc), f"not a valid URL: {exc}") from exc
            if self._pinned is not None and addresses:
                self._pinned.pin(outgoing.url, addresses)
            attempt.url = _without_userinfo(str(outgoing.url))
            try:
                incoming = self._http.send(outgoing, stream=True)
                try:
                    attempt.http_status = incoming.status_code
                    raw = self._read_limited(incoming, attempt, started, fail)
                finally:
                    incoming.close()
            except httpx.TimeoutException as exc:
                raise fail("timeout", f"no answer within {self.timeout:g}s ({exc})") from exc
            except (httpx.RemoteProtocolError, httpx.LocalProtocolError) as exc:
                raise fail("protocol", f"HTTP protocol error: {exc}") from exc
            except (httpx.DecodingError, httpx.UnsupportedProtocol) as exc:
                raise fail("protocol", str(exc)) from exc
            except httpx.TransportError as exc:
                raise fail("connection", f"{type(exc).__name__}: {exc}") from exc
            return self._interpret(incoming, raw, attempt, started, fail)
        finally:
            self._log(attempt, started)

    def _read_limited(
        self,
        incoming: httpx.Response,
        attempt: _Attempt,
        started: float,
        fail: _Fail,
    ) -> bytes:
        limit = int(settings.OCPI_OUTBOUND_MAX_RESPONSE_BYTES)
        declared = incoming.headers.get("Content-Length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise fail("too_large", f"response of {declared} bytes exceeds the {limit} limit")
        deadline = started + self.timeout * TOTAL_DEADLINE_FACTOR
        chunks: list[bytes] = []
        received = 0
        for chunk in incoming.iter_bytes():  # decoded: a gzip bomb counts at its real size
            chunks.append(chunk)
            received += len(chunk)
            if received > limit:
                attempt.response_body = b"".join(chunks)
                raise fail("too_large", f"response exceeds the {limit} bytes limit")
            if time.monotonic() > deadline:
                attempt.response_body = b"".join(chunks)
                raise fail(
                    "timeout",
                    f"response not complete after {self.timeout * TOTAL_DEADLINE_FACTOR:g}s",
                )
        raw = b"".join(chunks)
        attempt.response_body = raw
        return raw

    def _interpret(
        self,
        incoming: httpx.Response,
        raw: bytes,
        attempt: _Attempt,
        started: float,
        fail: _Fail,
    ) -> OcpiResponse:
        status = incoming.status_code
        success = 200 <= status < 300
        try:
            document = jsonutil.loads(raw) if raw.strip() else None
            parsed = document is not None
        except (ValueError, RecursionError):
            document, parsed = None, False
        if not parsed and success:
            raise fail("invalid_json", f"HTTP {status} answer is not JSON")
        envelope = document if isinstance(document, dict) else {}
        status_code = _status_code(envelope.get("status_code"))
        if success and status_code is None:
            raise fail("protocol", f"HTTP {status} answer is not an OCPI envelope (no status_code)")
        message = envelope.get("status_message")
        status_message = "" if message is None else str(message)
        if status_code is None:
            status_message = status_message or _describe_non_envelope(incoming, raw, parsed)
        attempt.ocpi_status = status_code
        response = OcpiResponse(
            http_status=status,
            headers=incoming.headers,
            body=raw,
            data=envelope.get("data"),
            status_code=status_code,
            status_message=status_message,
            timestamp=_timestamp(envelope.get("timestamp")),
            request_id=attempt.request_id,
            correlation_id=attempt.correlation_id,
            method=attempt.method,
            url=attempt.url,
            duration_ms=_elapsed_ms(started),
            document=document,
        )
        if not response.ok:
            attempt.error = status_message or f"HTTP {status}, OCPI {status_code}"
        return response

    def _log(self, attempt: _Attempt, started: float) -> None:
        # A failed log write must neither hide the partner's answer nor break the caller's
        # transaction: the insert runs in its own savepoint.
        try:
            with transaction.atomic():
                exchange_log_record(
                    direction=Direction.OUTBOUND,
                    connection=self.connection,
                    method=attempt.method,
                    url=attempt.url,
                    module=attempt.module,
                    http_status=attempt.http_status,
                    ocpi_status=attempt.ocpi_status,
                    duration_ms=_elapsed_ms(started),
                    request_id=attempt.request_id,
                    correlation_id=attempt.correlation_id,
                    request_body=attempt.request_body,
                    response_body=attempt.response_body,
                    error=attempt.error,
                )
        except DatabaseError:
            logger.exception("could not write the exchange log row of %s", attempt.url)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _describe_non_envelope(incoming: httpx.Response, raw: bytes, parsed: bool) -> str:
    what = "a JSON body without OCPI envelope" if parsed else "no JSON body"
    text = f"HTTP {incoming.status_code} {incoming.reason_phrase} with {what}".strip()
    location = incoming.headers.get("Location")
    if 300 <= incoming.status_code < 400 and location:
        text += f" (redirect to {location}, not followed)"
    return text
