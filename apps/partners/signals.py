from __future__ import annotations

from typing import Any


def ensure_own_party_after_migrate(sender: Any, **kwargs: Any) -> None:
    from apps.partners.services import party_ensure_own_default

    party_ensure_own_default(using=kwargs.get("using", "default"))
