"""OCPI version numbers and adapter profiles known to roamdesk.

Version strings live here and nowhere else outside ``apps.ocpi`` (tests/architecture checks it).
"""

from __future__ import annotations

from enum import StrEnum


class VersionNumber(StrEnum):
    V2_1_1 = "2.1.1"
    V2_2_1 = "2.2.1"
    V2_3_0 = "2.3.0"


#: The profile every connection gets unless a partner-specific dialect is registered.
STANDARD_PROFILE = "standard"
