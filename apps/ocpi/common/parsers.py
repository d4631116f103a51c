from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from apps.ocpi.common import jsonutil


class OcpiJSONParser(BaseParser):
    """JSON with numbers as Decimal. Lenient about Content-Type (some partners omit it)."""

    media_type = "*/*"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read() if stream is not None else b""
        if not raw or not raw.strip():
            return None
        try:
            return jsonutil.loads(raw)
        except ValueError as exc:
            raise ParseError(f"the request body is not valid JSON: {exc}") from None
