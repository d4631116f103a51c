"""Dialect of extrawest-ocpi (the ``py_ocpi`` FastAPI package), checked against 2025.7.16.

``tests/interop`` runs the real package and registers with it, rotates and unregisters. The one
deviation that needs a hook:

* §2.11: the four ``OCPI-to/from-*`` routing headers SHALL accompany every functional-module
  request. py_ocpi never sends them (its pushes carry only ``Authorization``), so its calls to
  our functional modules would be refused. With ``requires_routing_headers`` off,
  ``routing_check`` takes the connection's party as the sender when it represents exactly one
  (a registration with extrawest gives one).

Deviations that need nothing here, because shared code already copes with them for everyone:

* §2.2 / §2.5: a missing or unknown token gets HTTP 403 on functional modules and on
  credentials GET/DELETE (which also refuse token A), 405 on credentials PUT; only versions and
  credentials POST answer 401. Our client treats every non-2xx answer as a failure.
* §2.4: those 4xx answers are FastAPI's ``{"detail": ...}``, without an OCPI envelope.
* §2.3: it neither sends ``X-Request-ID`` / ``X-Correlation-ID`` (also not on its registration
  calls to us) nor echoes ours. Our middleware makes up the missing ids.
* §4.2: its own credentials endpoint is listed with role ``RECEIVER`` (the spec says ``SENDER``
  and tells receivers to ignore it, which we do); with both CPO and eMSP roles configured it
  lists ``credentials`` twice, and we use the first one.
* §5.3 step 6d: when it cannot reach our versions URL it answers the credentials POST with
  3000 instead of 3001; the registration fails all the same.
"""

from __future__ import annotations

from apps.ocpi.adapters.registry import register
from apps.ocpi.v2_2_1.adapter import StandardAdapter

PROFILE = "extrawest"


@register
class ExtrawestAdapter(StandardAdapter):
    profile = PROFILE
    requires_routing_headers = False
