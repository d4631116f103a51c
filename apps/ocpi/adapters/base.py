"""The adapter contract: how one (partner profile, OCPI version) speaks on the wire.

Shared code calls these hooks and never asks which partner or version it is talking to. A
partner's dialect is a subclass registered under its own profile name (see ``registry``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from apps.ocpi.versions import VersionNumber


@dataclass(frozen=True)
class EndpointInfo:
    identifier: str
    role: str  # SENDER / RECEIVER ("" where the version has no interface roles)
    url: str


@dataclass(frozen=True)
class VersionInfo:
    version: str
    url: str


@dataclass(frozen=True)
class PartyRole:
    """One CredentialsRole: a party, one of its roles and its business details."""

    role: str
    country_code: str
    party_id: str
    name: str
    website: str = ""
    logo: dict[str, Any] | None = None


@dataclass(frozen=True)
class CredentialsInfo:
    token: str
    url: str
    roles: list[PartyRole] = field(default_factory=list)


class Adapter:
    """Base of every adapter. Subclasses set ``profile`` and ``version`` and are registered."""

    profile: ClassVar[str]
    version: ClassVar[VersionNumber]
    #: Accept ``Authorization: Token <token>`` without Base64 (older implementations send it).
    accepts_raw_token: ClassVar[bool] = False
    #: Send our token without Base64.
    sends_raw_token: ClassVar[bool] = False
    #: Require the OCPI-from-* routing headers on functional modules (some dialects omit them).
    requires_routing_headers: ClassVar[bool] = True
    #: Modules the partner must offer for a registration to succeed.
    required_endpoints: ClassVar[frozenset[str]] = frozenset({"credentials"})

    # -- versions -------------------------------------------------------------------------
    def parse_versions(self, data: Any) -> list[VersionInfo]:
        raise NotImplementedError

    def parse_version_details(self, data: Any) -> list[EndpointInfo]:
        raise NotImplementedError

    def render_endpoint(self, endpoint: EndpointInfo) -> dict[str, Any]:
        raise NotImplementedError

    # -- credentials ----------------------------------------------------------------------
    def parse_credentials(self, data: Any) -> CredentialsInfo:
        """Wire credentials → canonical; raises ``InvalidParameters`` naming the bad field."""
        raise NotImplementedError

    def render_credentials(self, credentials: CredentialsInfo) -> dict[str, Any]:
        raise NotImplementedError

    # -- functional objects we push --------------------------------------------------------
    def render_cdr(self, cdr: Any) -> dict[str, Any]:
        """A final CDR of ours in this version's wire shape."""
        raise NotImplementedError
