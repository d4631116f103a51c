"""Typed readers for settings taken from the environment.

Every reader fails fast with ``ImproperlyConfigured`` on a value it cannot use, so that a typo
in a deployment stops the process at start-up instead of surfacing as odd behaviour later.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    value = _raw(name)
    if value is None:
        if required:
            raise ImproperlyConfigured(f"{name} must be set")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_list(
    name: str,
    default: Iterable[str],
    *,
    allowed: Iterable[str] | None = None,
    transform: Callable[[str], str] = str.strip,
) -> list[str]:
    value = _raw(name)
    items = (
        list(default) if value is None else [transform(p) for p in value.split(",") if p.strip()]
    )
    if allowed is not None:
        allowed_set = set(allowed)
        unknown = [i for i in items if i not in allowed_set]
        if unknown:
            raise ImproperlyConfigured(
                f"{name} has unknown value(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(allowed_set))}"
            )
    return items


def env_url(
    name: str, default: str | None, *, schemes: Iterable[str], required: bool = False
) -> str | None:
    value = env_str(name, default, required=required)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in set(schemes) or not (parts.netloc or parts.path):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a valid URL (expected scheme: {', '.join(schemes)})"
        )
    return value


def env_match(name: str, default: str, pattern: str, *, what: str) -> str:
    value = env_str(name, default)
    assert value is not None
    if not re.fullmatch(pattern, value):
        raise ImproperlyConfigured(f"{name}={value!r} is not {what}")
    return value
