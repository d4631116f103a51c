"""One place that removes credentials from what we store for operators to read.

Error columns (outbound deliveries, sync cursors, connections, background job failures) and the
exchange log keep text that partners and libraries wrote: URLs with ``user:password@``,
``Authorization`` headers in a repr, credentials bodies with ``token`` members. Everything written
there goes through :func:`redact_text` (free text) or :func:`redact_data` (a parsed JSON
document), so a secret is never shown in the admin or kept for the retention period.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"

#: Keys whose value is a credential, compared case-insensitively with ``-`` read as ``_``.
SECRET_KEYS = frozenset(
    {
        "token",
        "token_a",
        "token_b",
        "token_c",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "authorization",
        "proxy_authorization",
        "api_key",
        "apikey",
        "x_api_key",
        "access_token",
        "refresh_token",
        "auth_token",
        "cookie",
        "set_cookie",
    }
)
_SECRET_SUFFIXES = ("_token", "_password", "_secret", "_api_key")

# scheme://user:password@host -> scheme://[redacted]@host (userinfo cannot hold "/", "@", space).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@\"'<>]+@")
# An Authorization header or member, with its optional scheme word kept: "Authorization: Token
# abc", "'authorization': 'Bearer abc'", "authorization=abc".
_AUTHORIZATION = re.compile(
    r"(?i)(?<![a-z0-9_])([\"']?(?:proxy[-_])?authorization[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(token|bearer|basic|digest)\s+)?[^\s\"',;&}\]]+"
)
# A token-like key with its value, in JSON-ish text, a repr, a query string or a form.
_KEY_VALUE = re.compile(
    r"(?i)(?<![a-z0-9_])([\"']?)"
    r"((?:[a-z0-9]+[-_])*(?:token|password|passwd|pwd|secret|api[-_]?key|cookie)|token[-_][abc])"
    r"(\1\s*[:=]\s*)"
    r"(\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?|[^\s,&;}\]\)]+)"
)


def is_secret_key(name: str) -> bool:
    """True when a member, header or parameter called ``name`` holds a credential."""
    normalized = name.strip().lower().replace("-", "_")
    return normalized in SECRET_KEYS or normalized.endswith(_SECRET_SUFFIXES)


def _key_value(match: re.Match[str]) -> str:
    if not is_secret_key(match[2]):
        return match[0]
    value = match[4]
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match[1]}{match[2]}{match[3]}{quote}{REDACTED}{quote}"


def _authorization(match: re.Match[str]) -> str:
    scheme = f"{match[2]} " if match[2] else ""
    return f"{match[1]}{scheme}{REDACTED}"


def redact_text(text: str) -> str:
    """``text`` with URL userinfo, Authorization values and token-like key values redacted."""
    if not text:
        return text
    text = _USERINFO.sub(rf"\1{REDACTED}@", text)
    text = _AUTHORIZATION.sub(_authorization, text)
    return _KEY_VALUE.sub(_key_value, text)


def redact_data(value: Any) -> Any:
    """A copy of a parsed JSON document: secret keys' values replaced, strings redacted."""
    if isinstance(value, dict):
        return {
            key: REDACTED if isinstance(key, str) and is_secret_key(key) else redact_data(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_data(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
