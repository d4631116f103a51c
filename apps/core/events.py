"""Change announcements: how a domain service tells the rest of the platform that something a
partner may need to see has changed, without knowing who listens.

Services call :func:`change_announce` inside the transaction of the change. Listeners (the OCPI
outbox) run synchronously in that same transaction, so the change and what it triggers commit or
roll back together. This keeps the canonical apps free of any protocol import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction


class ChangeKind(StrEnum):
    LOCATION = "location"
    EVSE_STATUS = "evse_status"
    TARIFF = "tariff"
    TOKEN = "token"  # noqa: S105 (a driver token changed; not a secret)
    SESSION = "session"
    CDR = "cdr"
    COMMAND_RESULT = "command_result"


@dataclass(frozen=True)
class DomainChange:
    kind: ChangeKind
    object_id: int  # primary key of the changed row (Location, Evse, Tariff, Token, ...)


Listener = Callable[[DomainChange], object]
_listeners: list[Listener] = []


def change_listener(listener: Listener) -> Listener:
    """Register a listener (idempotent: registering twice keeps one)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def change_announce(change: DomainChange) -> None:
    """Tell every listener about a change. Must run inside the change's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("announce a change inside the transaction that makes it")
    for listener in _listeners:
        listener(change)
