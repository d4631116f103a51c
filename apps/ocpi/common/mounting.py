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


@dataclass(frozen=True)
class MountedEndpoint:
    """One module interface of one version, at ``<version root>/<path>``.

    ``our_roles``: the endpoint is listed only when one of our own parties plays one of these
    roles (empty: always listed, e.g. credentials). ``routes`` are the URLs below the root (an
    object by its ids, a command name ...); version details publish the root only.
    """

    identifier: str
    interface_role: str
    path: str
    view: Any
    name: str
    our_roles: frozenset[str] = frozenset()
    routes: tuple[Route, ...] = field(default_factory=tuple)

    def pattern(self) -> URLPattern:
        # An optional trailing slash: partners differ, and a redirect would lose the body.
        return re_path(rf"^/{self.path}/?$", self.view, name=self.name)

    def patterns(self) -> list[URLPattern]:
        return [
            self.pattern(),
            *(
                re_path(rf"^/{self.path}/{route.suffix}/?$", route.view, name=route.name)
                for route in self.routes
            ),
        ]
