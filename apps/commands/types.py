"""Canonical, protocol-free shapes of a command and its two answers.

The protocol layer parses a partner's request into a :class:`CommandRequest` and renders the
answers from :class:`CommandAnswer` (the immediate response) and :class:`CommandOutcome` (the
result reported later); this app never sees a wire format.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TokenSnapshot:
    """The driver token a START_SESSION or RESERVE_NOW is for, as the eMSP sent it."""

    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str
    issuer: str = ""
    valid: bool = True
    whitelist: str = ""
    visual_number: str = ""
    group_id: str = ""
    language: str = ""
    default_profile_type: str = ""
    energy_supplier_name: str = ""
    energy_contract_id: str = ""
    last_updated: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_updated"] = self.last_updated.isoformat() if self.last_updated else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenSnapshot:
        values = dict(data)
        stamp = values.get("last_updated")
        values["last_updated"] = datetime.fromisoformat(stamp) if stamp else None
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class CommandRequest:
    """One command as requested: the fields used depend on ``type``."""

    type: str
    response_url: str = ""
    token: TokenSnapshot | None = None
    location_id: str = ""
    evse_uid: str = ""
    connector_id: str = ""
    session_id: str = ""
    reservation_id: str = ""
    expiry_date: datetime | None = None
    authorization_reference: str = ""


@dataclass(frozen=True)
class CommandAnswer:
    """The immediate response to a command (a ``CommandResponseType`` and a timeout)."""

    result: str
    timeout: int
    message: str = ""


@dataclass(frozen=True)
class CommandOutcome:
    """The final outcome of a command (a ``CommandResultType``)."""

    result: str
    message: str = ""
