"""Real OCMF test vectors: a meter with its own EC key signs records the way the OCMF spec says.

An OCMF record is ``OCMF|{payload}|{signature}``. The meter signs the exact UTF-8 bytes of the
payload section with ECDSA (hash per the signature algorithm ``SA``, e.g.
``ECDSA-secp256r1-SHA256``); the signature ``SD`` is the DER-encoded ECDSA signature, in hex
unless ``SE`` says ``base64``. The public key is the DER SubjectPublicKeyInfo, which meters
publish in hex and OCPI carries in Base64.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import simplejson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

# The session of CdrFactory: 2026-10-01 08:00 to 09:30 UTC, 30 kWh.
BEGIN_TIME = "2026-10-01T10:00:00,000+0200 S"
END_TIME = "2026-10-01T11:30:00,000+0200 S"
BEGIN_KWH = "1000.000"
END_KWH = "1030.000"


def reading(
    tx: str, value: str, *, time: str, register: str = "1-b:1.8.0", unit: str = "kWh"
) -> dict[str, Any]:
    return {
        "TM": time,
        "TX": tx,
        "RV": Decimal(value),
        "RI": register,
        "RU": unit,
        "RT": "AC",
        "EF": "",
        "ST": "G",
    }


def _json(data: dict[str, Any]) -> str:
    # Decimals as JSON numbers with their exact digits (1030.000), as a meter writes them.
    return str(simplejson.dumps(data, separators=(",", ":"), use_decimal=True))


@dataclass
class Meter:
    curve: ec.EllipticCurve = field(default_factory=ec.SECP256R1)
    hash_name: str = "SHA256"
    serial: str = "MS-0042"

    def __post_init__(self) -> None:
        self.key = ec.generate_private_key(self.curve)

    @property
    def algorithm(self) -> str:
        return f"ECDSA-{self.curve.name}-{self.hash_name}"

    def public_key_der(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_key_hex(self) -> str:
        return self.public_key_der().hex().upper()

    def public_key_base64(self) -> str:
        return base64.b64encode(self.public_key_der()).decode("ascii")

    def payload(self, readings: list[dict[str, Any]], *, pagination: str = "T1") -> str:
        return _json(
            {
                "FV": "1.0",
                "GI": "ACME Wallbox",
                "GS": "GW-0042",
                "GV": "1.4.2",
                "PG": pagination,
                "MV": "ACME Metering",
                "MM": "EM-340",
                "MS": self.serial,
                "MF": "2.1",
                "IS": True,
                "IL": "VERIFIED",
                "IF": ["RFID_PLAIN"],
                "IT": "ISO14443",
                "ID": "1F2D3A4B",
                "CT": "EVSEID",
                "CI": "DE*ACM*E1",
                "RD": readings,
            }
        )

    def sign(self, payload: str, *, encoding: str = "hex", algorithm: str | None = None) -> str:
        """The OCMF record for ``payload``, signed over its exact bytes."""
        digest = {"SHA256": hashes.SHA256(), "SHA512": hashes.SHA512()}[self.hash_name]
        der = self.key.sign(payload.encode("utf-8"), ec.ECDSA(digest))
        data = der.hex() if encoding == "hex" else base64.b64encode(der).decode("ascii")
        signature = {"SA": algorithm or self.algorithm, "SE": encoding, "SD": data}
        return f"OCMF|{payload}|{json.dumps(signature, separators=(',', ':'))}"

    def record(self, readings: list[dict[str, Any]], **kwargs: Any) -> str:
        return self.sign(self.payload(readings), **kwargs)

    def session(
        self,
        *,
        begin: str = BEGIN_KWH,
        end: str = END_KWH,
        public_key: str | None = "hex",
        encoding: str = "hex",
    ) -> dict[str, Any]:
        """OCPI SignedData for one session: a Start and an End value, each an OCMF record."""
        start_payload = self.payload([reading("B", begin, time=BEGIN_TIME)], pagination="T1")
        end_payload = self.payload([reading("E", end, time=END_TIME)], pagination="T2")
        data: dict[str, Any] = {
            "encoding_method": "OCMF",
            "encoding_method_version": 1,
            "signed_values": [
                {
                    "nature": "Start",
                    "plain_data": start_payload,
                    "signed_data": self.sign(start_payload, encoding=encoding),
                },
                {
                    "nature": "End",
                    "plain_data": end_payload,
                    "signed_data": self.sign(end_payload, encoding=encoding),
                },
            ],
            "url": "https://transparenz.example/verify",
        }
        if public_key == "hex":
            data["public_key"] = self.public_key_hex()
        elif public_key == "base64":
            data["public_key"] = self.public_key_base64()
        return data
