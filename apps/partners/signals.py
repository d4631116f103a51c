from __future__ import annotations

from typing import Any

from django.dispatch import Signal

#: Sent after commit when a connection can take our pushes again (resumed, or its pushes
#: released), with ``connection_id``: whoever holds pushes for it wakes them (the OCPI outbox).
connection_deliverable = Signal()


def ensure_own_party_after_migrate(sender: Any, **kwargs: Any) -> None:
    from apps.partners.services import party_ensure_own_default

    party_ensure_own_default(using=kwargs.get("using", "default"))
