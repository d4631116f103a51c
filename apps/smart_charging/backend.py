"""How charging profiles reach chargers: the backend contract and the loader of the configured one.

A backend drives the chargers of our sessions (through OCPP, a charger management system, or the
simulator). It is asked to set, read or clear a profile for one request and answers at once
whether it took the request on. When it did (``ACCEPTED``), it reports the outcome later, from
wherever it learns it (an OCPP reply, a webhook ...), by calling
:func:`apps.smart_charging.services.charging_profile_result_report` with the request's id. A
request whose outcome is not reported before its deadline is closed by
:func:`~apps.smart_charging.services.charging_profile_request_expire`; a report after that is
kept in the request's note and changes nothing.

The setting ``CHARGING_PROFILE_BACKEND`` names the class (dotted path); it is instantiated without
arguments. Default: :class:`apps.smart_charging.simulator.SimulatedChargingProfileBackend`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from apps.smart_charging.models import ChargingProfileRequest
    from apps.smart_charging.profiles import ChargingProfile

DEFAULT_BACKEND = "apps.smart_charging.simulator.SimulatedChargingProfileBackend"


class ChargingProfileBackend(Protocol):
    """Each method answers with a ``ProfileResponseType`` value: ``ACCEPTED`` (the outcome will
    be reported through ``charging_profile_result_report``), or ``REJECTED`` /
    ``NOT_SUPPORTED`` / ``TOO_OFTEN`` / ``UNKNOWN_SESSION`` (nothing will be reported).

    ``request.session`` is the session (one of ours), ``request.from_party`` the party asking.
    Methods must return quickly: they run in a worker, and the requester waits for a result
    only until the request's ``deadline_at``.
    """

    def set_profile(self, *, request: ChargingProfileRequest, profile: ChargingProfile) -> str:
        """Apply ``profile`` (replacing the one ``request.from_party`` set before, if any).
        Report ``ACCEPTED`` once the charger applies it, ``REJECTED`` if it refuses."""
        ...

    def get_active_profile(self, *, request: ChargingProfileRequest, duration: int) -> str:
        """Read the limits the charger will apply over the next ``duration`` seconds. Report
        ``ACCEPTED`` with the ``ActiveChargingProfile``, or ``REJECTED``."""
        ...

    def clear_profile(self, *, request: ChargingProfileRequest) -> str:
        """Remove the profile ``request.from_party`` set. Report ``ACCEPTED`` when removed,
        ``UNKNOWN`` when the charger had no such profile, ``REJECTED`` if it refuses."""
        ...


def charging_profile_backend() -> ChargingProfileBackend:
    """A new instance of the backend named by ``CHARGING_PROFILE_BACKEND``."""
    path = getattr(settings, "CHARGING_PROFILE_BACKEND", None) or DEFAULT_BACKEND
    backend: ChargingProfileBackend = import_string(path)()
    return backend
