"""What each OCPI version mounts, so that version details are generated from the URLconf."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, re_path


@dataclass(frozen=True)
class MountedEndpoint:
    """One module interface of one version, at ``<version root>/<path>``.

    ``our_roles``: the endpoint is listed only when one of our own parties plays one of these
    roles (empty: always listed, e.g. credentials).
    """

    identifier: str
    interface_role: str
    path: str
    view: Any
    name: str
    our_roles: frozenset[str] = frozenset()

    def pattern(self) -> URLPattern:
        # An optional trailing slash: partners differ, and a redirect would lose the body.
        return re_path(rf"^/{self.path}/?$", self.view, name=self.name)
