"""HubClientInfo as a client: fetch a hub's list of ClientInfo (start-up or resync, spec 13.1).

Operational updates arrive as pushes on our Receiver endpoint; this pull catches up on what we
missed (e.g. while our platform was down). It is the pull sync of the ``hubclientinfo`` module
(see ``sync``), run in full: every object goes through the same service as a push.
"""

from __future__ import annotations

from apps.ocpi.services.sync import SyncReport, sync_run
from apps.partners.models import PartnerConnection


def hubclientinfo_pull(*, connection: PartnerConnection) -> SyncReport:
    return sync_run(connection_id=connection.pk, module="hubclientinfo", full=True)
