"""The adapter contract: how one (partner profile, OCPI version) speaks on the wire.

Shared code calls these hooks and never asks which partner or version it is talking to. A
partner's dialect is a subclass registered under its own profile name (see ``registry``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

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


class Codec(Protocol):
    """Wire ⇄ canonical for one kind of object (a location, an EVSE, a token ...) of one version.

    ``parse`` validates a wire dict and returns canonical data (or raises ``InvalidParameters``
    naming the bad field); ``partial`` parses a PATCH body (only the fields present, and
    ``last_updated`` required where the module says so). ``render`` turns a canonical object
    into the wire dict.
    """

    def parse(self, data: Any, *, partial: bool = False) -> Any: ...

    def render(self, obj: Any) -> dict[str, Any]: ...


class Adapter:
    """Base of every adapter. Subclasses set ``profile`` and ``version`` and are registered.

    Functional objects go through :meth:`parse` and :meth:`render` with a kind name. A dialect
    that deviates for one kind defines ``parse_<kind>``/``render_<kind>`` (same signature as the
    codec's method) and may call the standard codec through ``self.codecs[kind]``.
    """

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
    #: The version's codecs by kind (filled by the version's module packages).
    codecs: ClassVar[dict[str, Codec]] = {}

    # -- functional objects ----------------------------------------------------------------
    def parse(self, kind: str, data: Any, *, partial: bool = False) -> Any:
        hook = getattr(self, f"parse_{kind}", None)
        if hook is not None:
            return hook(data, partial=partial)
        return self._codec(kind).parse(data, partial=partial)

    def render(self, kind: str, obj: Any) -> dict[str, Any]:
        hook = getattr(self, f"render_{kind}", None)
        if hook is not None:
            result: dict[str, Any] = hook(obj)
            return result
        return self._codec(kind).render(obj)

    def _codec(self, kind: str) -> Codec:
        try:
            return self.codecs[kind]
        except KeyError:
            raise NotImplementedError(f"{type(self).__name__} has no codec for {kind!r}") from None

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
