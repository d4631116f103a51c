from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from apps.ocpi.common.mounting import MountedEndpoint
from apps.partners.models import Party


def absolute_url(name: str) -> str:
    return f"{settings.OCPI_BASE_URL}{reverse(name)}"


def published(endpoints: list[MountedEndpoint]) -> list[MountedEndpoint]:
    roles = {r for p in Party.objects.own() for r in (p.roles or [])}
    return [e for e in endpoints if not e.our_roles or e.our_roles & roles]
