"""Registry of adapters by (profile, version).

The standard profile has an adapter for every version we speak. A partner profile registers
adapters only for the versions where the partner deviates; for other versions the standard
adapter serves it.
"""

from __future__ import annotations

from apps.ocpi.adapters.base import Adapter
from apps.ocpi.versions import STANDARD_PROFILE, VersionNumber

_REGISTRY: dict[tuple[str, VersionNumber], type[Adapter]] = {}


class UnknownAdapter(LookupError):
    pass


def register(cls: type[Adapter]) -> type[Adapter]:
    """Class decorator: register an adapter under its ``profile`` and ``version``."""
    key = (cls.profile, VersionNumber(cls.version))
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"an adapter for {key} is already registered: {_REGISTRY[key]!r}")
    _REGISTRY[key] = cls
    return cls


def get_adapter(profile: str, version: str) -> Adapter:
    try:
        number = VersionNumber(version)
    except ValueError:
        raise UnknownAdapter(f"unsupported OCPI version {version!r}") from None
    cls = _REGISTRY.get((profile, number)) or _REGISTRY.get((STANDARD_PROFILE, number))
    if cls is None:
        raise UnknownAdapter(f"no adapter for OCPI {version}")
    if profile not in profiles():
        raise UnknownAdapter(f"unknown adapter profile {profile!r}")
    return cls()


def adapter_problem(profile: str, version: str) -> str | None:
    """Why a connection with this profile and version cannot exchange anything (no adapter),
    in words for the operator; None when it can. A connection not registered yet (no version)
    has no problem of this kind."""
    if not version:
        return None
    try:
        get_adapter(profile, version)
    except UnknownAdapter as exc:
        spoken = ", ".join(supported_versions()) or "none"
        return f"{exc}: roamdesk speaks {spoken}, so nothing is exchanged with this partner"
    return None


def supported_versions() -> list[VersionNumber]:
    """Versions with a standard adapter, newest first."""
    found = {v for (p, v) in _REGISTRY if p == STANDARD_PROFILE}
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True)


def profiles() -> list[str]:
    return sorted({p for (p, _v) in _REGISTRY})


def profile_choices() -> list[tuple[str, str]]:
    return [(p, p) for p in profiles()]


def version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in version.split("."))
    except ValueError:
        return ()
