"""A programmable OCPI peer: a real HTTP server on 127.0.0.1 for tests of the outbound client.

Each test scripts the answers and inspects the requests received::

    peer.reply(envelope({"id": 1}), headers={"X-Total-Count": "1"})
    peer.queue(Reply(status=500, body=b"oops"), Reply(body=envelope([])))
    peer.handler = lambda request: Reply(body=envelope(request.path))
    ...
    assert peer.requests[0].headers["Authorization"] == "Token ..."

Order of precedence: ``handler`` if set, else the next queued reply, else the default reply.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from apps.ocpi.common import jsonutil

OK_TIMESTAMP = "2026-10-01T08:00:00Z"


def envelope(
    data: Any = None,
    *,
    status_code: int = 1000,
    status_message: str | None = None,
    timestamp: str | None = OK_TIMESTAMP,
) -> bytes:
    """An OCPI response body (``data`` omitted when ``None``)."""
    document: dict[str, Any] = {"status_code": status_code}
    if data is not None:
        document["data"] = data
    if status_message is not None:
        document["status_message"] = status_message
    if timestamp is not None:
        document["timestamp"] = timestamp
    return jsonutil.dumps(document)


@dataclass
class Reply:
    """A scripted answer. ``chunks`` (with ``chunk_delay`` between them) replaces ``body`` and is
    sent with chunked transfer encoding, i.e. without Content-Length."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    delay: float = 0.0
    chunks: list[bytes] | None = None
    chunk_delay: float = 0.0
    content_type: str | None = "application/json"


@dataclass
class RecordedRequest:
    method: str
    target: str  # path and query, as sent
    headers: Message
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def json(self) -> Any:
        return jsonutil.loads(self.body)


@dataclass
class _Script:
    default: Reply = field(default_factory=lambda: Reply(body=envelope()))
    queued: deque[Reply] = field(default_factory=deque)
    handler: Callable[[RecordedRequest], Reply] | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(self.command, self.path, self.headers, body)
        peer: OcpiPeer = self.server.owner
        with peer.lock:
            peer.requests.append(request)
        reply = peer.next_reply(request)
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout, size limit)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        headers = list(
            reply.headers.items() if isinstance(reply.headers, Mapping) else reply.headers
        )
        names = {name.lower() for name, _ in headers}
        if reply.content_type and "content-type" not in names:
            self.send_header("Content-Type", reply.content_type)
        for name, value in headers:
            self.send_header(name, value)
        if reply.chunks is None:
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in reply.chunks:
            if chunk:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            if reply.chunk_delay:
                time.sleep(reply.chunk_delay)
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still sleeping (timeout tests) must not delay teardown

    def __init__(self, owner: Any, handler: type[BaseHTTPRequestHandler]) -> None:
        self.owner = owner  # the LocalServer whose state the handler uses
        super().__init__(("127.0.0.1", 0), handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up early (timeouts, kills) are expected here


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) serving ``request_handler``; the
    handler reaches this object as ``self.server.owner``. Use ``with`` or start()/stop()."""

    request_handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self._server = _Server(self, self.request_handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])


class OcpiPeer(LocalServer):
    """The server; start it with ``with OcpiPeer() as peer:`` (or :meth:`start`/:meth:`stop`)."""

    request_handler = _Handler

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._script = _Script()
        super().__init__()

    # -- addressing --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}{path if path.startswith('/') else '/' + path}"

    # -- scripting ---------------------------------------------------------------------------
    def reply(
        self,
        body: bytes | None = None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        **options: Any,
    ) -> None:
        """Set the answer given to every request (unless queued replies or a handler apply)."""
        self._script.default = Reply(
            status=status, body=envelope() if body is None else body, headers=headers, **options
        )

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self.lock:
            self._script.queued.extend(replies)

    @property
    def handler(self) -> Callable[[RecordedRequest], Reply] | None:
        return self._script.handler

    @handler.setter
    def handler(self, handler: Callable[[RecordedRequest], Reply] | None) -> None:
        self._script.handler = handler

    def next_reply(self, request: RecordedRequest) -> Reply:
        if self._script.handler is not None:
            return self._script.handler(request)
        with self.lock:
            if self._script.queued:
                return self._script.queued.popleft()
        return self._script.default

    @property
    def last(self) -> RecordedRequest:
        with self.lock:
            return self.requests[-1]
