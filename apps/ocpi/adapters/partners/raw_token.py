"""Dialect of implementations that send and expect the credentials token without Base64.

OCPI 2.1.1 and early 2.2 implementations did this; the Base64 rule is explicit only since
2.2-d2. Choose this profile for such a partner; everything else stays standard.
"""

from __future__ import annotations

from apps.ocpi.adapters.registry import register
from apps.ocpi.v2_2_1.adapter import StandardAdapter

PROFILE = "raw-token"


@register
class RawTokenAdapter(StandardAdapter):
    profile = PROFILE
    accepts_raw_token = True
    sends_raw_token = True
