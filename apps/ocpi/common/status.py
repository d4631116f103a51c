"""OCPI status codes (the ``status_code`` of the response envelope)."""

from __future__ import annotations

from enum import IntEnum


class OcpiStatus(IntEnum):
    SUCCESS = 1000
    CLIENT_ERROR = 2000
    INVALID_PARAMETERS = 2001
    NOT_ENOUGH_INFORMATION = 2002
    UNKNOWN_LOCATION = 2003
    UNKNOWN_TOKEN = 2004
    SERVER_ERROR = 3000
    CLIENT_API_UNUSABLE = 3001
    UNSUPPORTED_VERSION = 3002
    NO_MATCHING_ENDPOINTS = 3003
    HUB_ERROR = 4000
    UNKNOWN_RECEIVER = 4001
    FORWARD_TIMEOUT = 4002
    CONNECTION_PROBLEM = 4003

    @staticmethod
    def is_success(code: int) -> bool:
        return 1000 <= code < 2000

    @staticmethod
    def is_client_error(code: int) -> bool:
        return 2000 <= code < 3000

    @staticmethod
    def is_server_error(code: int) -> bool:
        return 3000 <= code < 4000
