"""What each OCPI version mounts, so that version details are generated from the URLconf."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, re_path

# Path segments of OCPI ids (CiString(36) and friends): anything but a slash.
COUNTRY = r"(?P<country_code>[A-Za-z]{2})"
PARTY = r"(?P<party_id>[A-Za-z0-9]{3})"


def segment(name: str) -> str:
    """A named URL segment holding one OCPI id."""
    return rf"(?P<{name}>[^/]+)"


@dataclass(frozen=True)
class Route:
    """One more URL of an endpoint, below its root: ``<root>/<suffix>``."""

    suffix: str  # a regex without leading or trailing slash, e.g. COUNTRY + "/" + PARTY
    view: Any
    name: str


def _for_callers(view: Any, endpoint: MountedEndpoint) -> Any:
    """``view`` built again with the roles its callers must play (``OcpiView.caller_roles``)."""
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return view
    return view_class.as_view(
        **getattr(view, "view_initkwargs", {}),
        caller_roles=endpoint.caller_roles,
        interface_role=endpoint.interface_role,
    )


@dataclass(frozen=True)
class MountedEndpoint:
    """One module interface of one version, at ``<version root>/<path>``.

    ``our_roles``: the endpoint is listed only when one of our own parties plays one of these
    roles (empty: always listed, e.g. credentials). ``routes`` are the URLs below the root (an
    object by its ids, a command name ...); version details publish the root only.

    ``caller_roles``: the roles a caller's party must play to use this interface, for the root
    and every route below it (spec 1.2: a CPO pushes Locations to an eMSP's Receiver, an eMSP
    pulls Tokens ... ); a connection that represents a HUB passes for every party it relays
    for. ``None`` (not declared) refuses every request to a functional module: a new endpoint
    cannot forget to say who may call it. Versions and credentials check no role.
    """

    identifier: str
    interface_role: str
    path: str
    view: Any
    name: str
    our_roles: frozenset[str] = frozenset()
    routes: tuple[Route, ...] = field(default_factory=tuple)
    caller_roles: frozenset[str] | None = None

    def pattern(self) -> URLPattern:
        # An optional trailing slash: partners differ, and a redirect would lose the body.
        view = _for_callers(self.view, self)
        return re_path(rf"^/{self.path}/?$", view, name=self.name)

    def patterns(self) -> list[URLPattern]:
        return [
            self.pattern(),
            *(
                re_path(
                    rf"^/{self.path}/{route.suffix}/?$",
                    _for_callers(route.view, self),
                    name=route.name,
                )
                for route in self.routes
            ),
        ]
