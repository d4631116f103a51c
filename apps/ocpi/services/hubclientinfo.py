"""HubClientInfo as a client: fetch a hub's list of ClientInfo (start-up or resync, spec 13.1).

Operational updates arrive as pushes on our Receiver endpoint; this crawl catches up on what
we missed (e.g. while our platform was down) and goes through the same service as a push.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apps.core.upsert import Outcome
from apps.ocpi.adapters.registry import get_adapter
from apps.ocpi.common.client import OcpiClient
from apps.ocpi.common.errors import OcpiError
from apps.partners.models import PartnerConnection
from apps.partners.services import party_reachability_record

logger = logging.getLogger(__name__)


@dataclass
class ClientInfoPull:
    created: int = 0
    updated: int = 0
    stale: int = 0
    invalid: int = 0


def hubclientinfo_pull(*, connection: PartnerConnection) -> ClientInfoPull:
    """GET every page of the hub's ClientInfo list and record each party's state.

    Invalid objects are logged and skipped (spec 2.7: there is no way to report them back).
    """
    url = connection.endpoint_url("hubclientinfo", "SENDER")
    if not url:
        raise ValueError(f"connection {connection} has no hubclientinfo SENDER endpoint")
    adapter = get_adapter(connection.adapter_profile, connection.version)
    counts = ClientInfoPull()
    with OcpiClient.for_connection(connection, raw_token=adapter.sends_raw_token) as client:
        for page in client.crawl(url, module="hubclientinfo"):
            for item in page.data if isinstance(page.data, list) else []:
                try:
                    info = adapter.parse("client_info", item)
                except OcpiError as exc:
                    counts.invalid += 1
                    logger.warning("hub %s sent an invalid ClientInfo: %s", connection, exc)
                    continue
                result = party_reachability_record(
                    connection=connection,
                    country_code=info.country_code,
                    party_id=info.party_id,
                    role=info.role,
                    status=info.status,
                    last_updated=info.last_updated,
                )
                if result.outcome is Outcome.CREATED:
                    counts.created += 1
                elif result.outcome is Outcome.STALE:
                    counts.stale += 1
                else:
                    counts.updated += 1
    return counts
