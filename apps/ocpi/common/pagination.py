"""Pagination of every OCPI list endpoint (§2.7).

``offset``/``limit`` with a server maximum, ``date_from`` (inclusive) and
``date_to`` (exclusive) on ``last_updated``, ``X-Total-Count``, ``X-Limit`` (the page size applied:
the client's ``limit`` up to our maximum, the maximum when it asked for none or more; never the
number of objects on this page), and ``Link: <...>; rel="next"`` repeating the filters. Order is
stable: ``last_updated`` then primary key.

The next-page URL is produced by :meth:`OcpiPage.next_query` alone and clients must follow
``Link`` as given, so a keyset cursor (an opaque parameter carrying the last key) can replace
``offset`` later without any client noticing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.ocpi.common.errors import InvalidParameters
from apps.ocpi.common.timestamps import InvalidTimestamp, format_ocpi_datetime, parse_ocpi_datetime

#: The largest ``offset`` a database can skip (a signed 64-bit integer); a larger one is refused
#: (2001) rather than sent to the database. ``limit`` needs no bound: it is capped by our maximum.
OFFSET_MAX = 2**63 - 1


@dataclass(frozen=True)
class PageRequest:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None
    max_limit: int

    @classmethod
    def from_request(cls, request: HttpRequest, *, max_limit: int | None = None) -> PageRequest:
        cap = max_limit or settings.OCPI_PAGE_LIMIT_MAX
        params = request.GET
        offset = _int(params.get("offset"), "offset", default=0, minimum=0, maximum=OFFSET_MAX)
        limit = min(_int(params.get("limit"), "limit", default=cap, minimum=1), cap)
        date_from = _datetime(params.get("date_from"), "date_from")
        date_to = _datetime(params.get("date_to"), "date_to")
        if date_from and date_to and date_to <= date_from:
            raise InvalidParameters("date_to must be later than date_from")
        return cls(offset, limit, date_from, date_to, cap)


@dataclass(frozen=True)
class OcpiPage:
    objects: list[Any]
    total: int
    request: PageRequest
    base_url: str

    def next_query(self) -> dict[str, str] | None:
        """Query parameters of the next page, or None on the last page."""
        end = self.request.offset + len(self.objects)
        if not self.objects or end >= self.total:
            return None
        query = {"offset": str(end), "limit": str(self.request.limit)}
        if self.request.date_from:
            query["date_from"] = format_ocpi_datetime(self.request.date_from)
        if self.request.date_to:
            query["date_to"] = format_ocpi_datetime(self.request.date_to)
        return query

    def headers(self) -> dict[str, str]:
        headers = {"X-Total-Count": str(self.total), "X-Limit": str(self.request.limit)}
        query = self.next_query()
        if query is not None:
            headers["Link"] = f'<{self.base_url}?{urlencode(query)}>; rel="next"'
        return headers


def paginate(
    queryset: QuerySet[Any],
    request: HttpRequest,
    *,
    date_field: str = "last_updated",
    max_limit: int | None = None,
) -> OcpiPage:
    """One page of ``queryset`` (already scoped to what the caller may see)."""
    page = PageRequest.from_request(request, max_limit=max_limit)
    if page.date_from:
        queryset = queryset.filter(**{f"{date_field}__gte": page.date_from})
    if page.date_to:
        queryset = queryset.filter(**{f"{date_field}__lt": page.date_to})
    queryset = queryset.order_by(date_field, "pk")
    total = queryset.count()
    objects = list(queryset[page.offset : page.offset + page.limit])
    base_url = f"{settings.OCPI_BASE_URL}{request.path}"
    return OcpiPage(objects=objects, total=total, request=page, base_url=base_url)


def _int(
    value: str | None, name: str, *, default: int, minimum: int, maximum: int | None = None
) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidParameters(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise InvalidParameters(f"{name} must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise InvalidParameters(f"{name} must be at most {maximum}")
    return number


def _datetime(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return parse_ocpi_datetime(value)
    except InvalidTimestamp as exc:
        raise InvalidParameters(f"{name}: {exc}") from None
