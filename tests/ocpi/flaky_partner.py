"""A flaky eMSP for fault tests of the outbox: a real CDR receiver on 127.0.0.1 that fails a
seeded share of the requests it gets.

As a receiver it follows OCPI 2.2.1 (CDRs module, receiver interface): a CDR is identified by
(country_code, party_id, id); the first POST stores it and answers 201 with a ``Location``; a
repeated POST of a stored CDR answers success with the same ``Location`` and stores nothing.

As a faulty one, each request, in order of arrival, draws from a seeded generator: with
probability ``failure_rate`` it fails with one of the :class:`Fault` kinds (equal weights),
otherwise it is served normally. Every failure is counted once, whatever it looks like on the
wire (a lost response is one failure, not one per symptom).
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter
from enum import StrEnum
from http.server import BaseHTTPRequestHandler
from typing import Any

from apps.ocpi.common import jsonutil
from tests.ocpi.httpserver import LocalServer, envelope

CdrKey = tuple[str, str, str]  # (country_code, party_id, id)

#: Fields a 2.2.1 CDR must have; a POST without them is refused (OCPI 2001), which the outbox
#: treats as permanent: any such refusal makes the fault test fail.
REQUIRED_FIELDS = (
    "country_code", "party_id", "id", "start_date_time", "end_date_time", "cdr_token",
    "auth_method", "cdr_location", "currency", "charging_periods", "total_cost",
    "total_energy", "total_time", "last_updated",
)  # fmt: skip


class Fault(StrEnum):
    HTTP_500 = "http_500"
    HTTP_503_RETRY_AFTER = "http_503_retry_after"
    OCPI_3000 = "ocpi_3000_in_http_200"
    TIMEOUT = "timeout"  # nothing stored; no answer before the client gives up
    LOST_AFTER_STORE = "lost_after_store"  # stored, then the answer never arrives


class LostHow(StrEnum):
    """How a response is lost after the CDR was stored."""

    CLOSE = "close"  # FIN without a byte of answer
    RESET = "reset"  # RST (SO_LINGER 0)
    HOLD = "hold"  # silence past the client's timeout, then FIN


class FlakyEmsp(LocalServer):
    """Start with ``with FlakyEmsp(seed=...) as partner:``; POST CDRs to ``partner.cdrs_url``.

    ``authorization`` is the header value to expect (any when empty). ``hold`` is how long a
    TIMEOUT or HOLD fault stays silent: set it above the client's timeout. ``retry_after`` is the
    503's ``Retry-After`` (seconds).
    """

    def __init__(
        self,
        *,
        seed: int,
        failure_rate: float = 0.3,
        authorization: str = "",
        hold: float = 1.5,
        retry_after: int = 1,
    ) -> None:
        self.failure_rate = failure_rate
        self.authorization = authorization
        self.hold = hold
        self.retry_after = retry_after
        self.lock = threading.Lock()
        self._random = random.Random(seed)
        # What the partner holds, and how each CDR got there.
        self.stored: dict[CdrKey, dict[str, Any]] = {}
        self.store_count: Counter[CdrKey] = Counter()
        self.posts: Counter[CdrKey] = Counter()
        self.failures: Counter[CdrKey] = Counter()  # injected failures per CDR
        self.injected: Counter[Fault] = Counter()
        self.lost_how: Counter[LostHow] = Counter()
        self.served = 0  # answered with success (stored now or before)
        self.repeats = 0  # successful POSTs of a CDR already stored
        self.divergent: list[CdrKey] = []  # a repeated POST whose body differs from the stored
        self.refused: list[str] = []  # requests a conformant receiver must refuse (should be none)
        self.refused_posts = 0
        super().__init__()

    @property
    def cdrs_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ocpi/emsp/2.2.1/cdrs"

    # -- figures -----------------------------------------------------------------------------
    @property
    def total_posts(self) -> int:
        return sum(self.posts.values()) + self.refused_posts

    @property
    def total_injected(self) -> int:
        return sum(self.injected.values())

    # -- behaviour ---------------------------------------------------------------------------
    def draw(self) -> tuple[Fault | None, LostHow | None]:
        """The fate of the next request (called under the lock, in order of arrival)."""
        if self._random.random() >= self.failure_rate:
            return None, None
        fault = self._random.choice(list(Fault))
        lost = self._random.choice(list(LostHow)) if fault is Fault.LOST_AFTER_STORE else None
        return fault, lost

    def store(self, key: CdrKey, cdr: dict[str, Any]) -> bool:
        """Store a CDR unless held already (then check it is the same). Under the lock."""
        held = self.stored.get(key)
        if held is None:
            self.stored[key] = cdr
            self.store_count[key] += 1
            return True
        if held != cdr:
            self.divergent.append(key)
        return False

    def location(self, key: CdrKey) -> str:
        return f"{self.cdrs_url}/{key[0]}/{key[1]}/{key[2]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        partner: FlakyEmsp = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        checked = self._check(partner, body)
        if isinstance(checked, str):
            with partner.lock:
                partner.refused.append(checked)
                partner.refused_posts += 1
            self._answer(200, envelope(status_code=2001, status_message=checked))
            return
        key, cdr = checked
        created = False
        with partner.lock:
            partner.posts[key] += 1
            fault, lost = partner.draw()
            if fault is not None:
                partner.injected[fault] += 1
                partner.failures[key] += 1
            if fault is None or fault is Fault.LOST_AFTER_STORE:
                created = partner.store(key, cdr)
            if fault is None:
                partner.served += 1
                partner.repeats += not created
            if lost is not None:
                partner.lost_how[lost] += 1
        match fault:
            case None:
                self._answer(
                    201 if created else 200,
                    envelope(),
                    {"Location": partner.location(key)},
                )
            case Fault.HTTP_500:
                self._answer(500, b"Internal Server Error", content_type="text/plain")
            case Fault.HTTP_503_RETRY_AFTER:
                self._answer(
                    503,
                    b"Service Unavailable",
                    {"Retry-After": str(partner.retry_after)},
                    content_type="text/plain",
                )
            case Fault.OCPI_3000:
                self._answer(200, envelope(status_code=3000, status_message="try again later"))
            case Fault.TIMEOUT:
                self._drop(partner.hold)
            case Fault.LOST_AFTER_STORE:
                if lost is LostHow.RESET:
                    self._reset()
                else:
                    self._drop(partner.hold if lost is LostHow.HOLD else 0.0)

    def _check(self, partner: FlakyEmsp, body: bytes) -> str | tuple[CdrKey, dict[str, Any]]:
        """The CDR's identity and body, or why a conformant receiver refuses the request."""
        if self.path != "/ocpi/emsp/2.2.1/cdrs":
            return f"unexpected path {self.path}"
        if partner.authorization and self.headers.get("Authorization") != partner.authorization:
            return "wrong credentials"
        try:
            cdr = jsonutil.loads(body)
        except ValueError:
            return "body is not JSON"
        if not isinstance(cdr, dict):
            return "body is not a CDR object"
        missing = [name for name in REQUIRED_FIELDS if cdr.get(name) in (None, "", [], {})]
        if missing:
            return f"CDR without {', '.join(missing)}"
        sender = (
            self.headers.get("OCPI-from-country-code"),
            self.headers.get("OCPI-from-party-id"),
        )
        if sender != (cdr["country_code"], cdr["party_id"]):
            return f"CDR of {cdr['country_code']}*{cdr['party_id']} sent by {sender}"
        return (cdr["country_code"], cdr["party_id"], cdr["id"]), cdr

    def _answer(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        content_type: str = "application/json",
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True  # the client is gone (e.g. its worker was killed)

    def _drop(self, after: float) -> None:
        """Close the connection without a byte of answer (the client sees it as lost)."""
        if after:
            time.sleep(after)
        self.close_connection = True

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


FlakyEmsp.request_handler = _Handler  # defined after the class that owns its state
