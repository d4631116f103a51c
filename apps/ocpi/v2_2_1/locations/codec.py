"""OCPI 2.2.1 locations: wire ⇄ canonical (registered in ``apps.ocpi.v2_2_1.codecs``)."""

from __future__ import annotations
