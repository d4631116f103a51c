"""A partner's Sender list served by a local ``OcpiPeer``: filters on ``last_updated``
(``date_from`` inclusive, ``date_to`` exclusive), offset/limit pages, ``Link`` and totals."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from apps.ocpi.common.timestamps import parse_ocpi_datetime
from tests.ocpi.httpserver import OcpiPeer, RecordedRequest, Reply, envelope


def last_updated(obj: dict[str, Any]) -> datetime:
    return parse_ocpi_datetime(obj["last_updated"])


class PaginatedPartner:
    """A partner's Sender list at ``peer.url(path)``: filters on last_updated, offset/limit
    pages, Link, totals."""

    def __init__(
        self,
        peer: OcpiPeer,
        objects: list[dict[str, Any]],
        page_size: int = 3,
        path: str = "/clientinfo",
    ):
        self.peer = peer
        self.objects = objects
        self.page_size = page_size
        self.path = path
        self.fail_once: set[int] = set()  # offsets whose first request fails
        self.on_request: Any = None
        self.lock = threading.Lock()
        peer.handler = self.serve

    @property
    def url(self) -> str:
        return self.peer.url(self.path)

    def serve(self, request: RecordedRequest) -> Reply:
        query = {k: v[0] for k, v in request.query.items()}
        offset = int(query.get("offset", 0))
        limit = min(int(query.get("limit", self.page_size)), self.page_size)
        if self.on_request is not None:
            self.on_request(offset)
        with self.lock:
            if offset in self.fail_once:
                self.fail_once.discard(offset)
                return Reply(status=503, body=b"busy", content_type="text/plain")
            rows = [
                o
                for o in self.objects
                if (
                    "date_from" not in query
                    or last_updated(o) >= parse_ocpi_datetime(query["date_from"])
                )
                and (
                    "date_to" not in query
                    or last_updated(o) < parse_ocpi_datetime(query["date_to"])
                )
            ]
        page = rows[offset : offset + limit]
        headers = {"X-Total-Count": str(len(rows)), "X-Limit": str(self.page_size)}
        if offset + limit < len(rows):
            filters = {k: v for k, v in query.items() if k in ("date_from", "date_to")}
            nxt = urlencode({**filters, "offset": offset + limit, "limit": limit})
            headers["Link"] = f'<{self.url}?{nxt}>; rel="next"'
        return Reply(body=envelope(page), headers=headers)
