"""What happened when a copy of someone else's object was written: the shared vocabulary of every
"create or replace" service (inbound pushes and pull sync use the same services)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    #: The update is older than what we hold (out-of-order delivery): nothing was written.
    STALE = "stale"


@dataclass(frozen=True)
class Upserted(Generic[T]):
    outcome: Outcome
    obj: T

    @property
    def created(self) -> bool:
        return self.outcome is Outcome.CREATED

    @property
    def stale(self) -> bool:
        return self.outcome is Outcome.STALE


def is_stale(incoming: datetime | None, stored: datetime | None) -> bool:
    """An update is stale when it is strictly older than what we hold.

    Equal timestamps are applied (a repeated delivery writes the same state again), so a retry
    is harmless and a correction sent with the same timestamp is not lost.
    """
    return incoming is not None and stored is not None and incoming < stored
