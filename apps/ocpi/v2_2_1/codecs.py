"""The OCPI 2.2.1 codecs (wire ⇄ canonical) by kind; each module package registers its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apps.ocpi.adapters.base import Codec

#: The functional modules of this version, one package each: ``<module>.codec`` registers its
#: codecs here and ``<module>.urls.ENDPOINTS`` lists what it mounts.
MODULES = (
    "locations",
    "tariffs",
    "tokens",
    "sessions",
    "cdrs",
    "commands",
    "chargingprofiles",
    "hubclientinfo",
)

CODECS: dict[str, Codec] = {}


def codec(kind: str) -> Callable[[type[Any]], type[Any]]:
    """Class decorator: register an instance of the class as the codec of ``kind``."""

    def register(cls: type[Any]) -> type[Any]:
        if kind in CODECS:
            raise ValueError(f"a 2.2.1 codec for {kind!r} is already registered")
        CODECS[kind] = cls()
        return cls

    return register
