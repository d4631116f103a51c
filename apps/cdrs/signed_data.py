"""Signed meter data (calibration law, "Eichrecht"): check what the meter signed and compare it
with the energy the CDR bills.

``Cdr.signed_data`` is the OCPI SignedData object: ``encoding_method`` (e.g. ``OCMF``),
``encoding_method_version``, ``public_key``, ``url`` and ``signed_values`` (``nature``
Start/End/Intermediate, ``plain_data``, ``signed_data``). With OCMF each signed value carries an
OCMF record, ``OCMF|{payload}|{signature}``: the meter signed the exact bytes of the payload
section with ECDSA. Parsing and verification are pyocmf's; this module decides where the record
is, what each result means for us, and which readings prove the session's energy.

Nothing here writes: :func:`signed_data_verify` returns a report, and
``apps.cdrs.services.cdr_check_signed_data`` records it as findings.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pyocmf import OCMF, PublicKey, PyOCMFError, Reading, SignatureMethod, SpecWarning
from pyocmf.enums.crypto import SignatureEncodingType
from pyocmf.registries.obis import parse_obis

if TYPE_CHECKING:
    from apps.cdrs.models import Cdr

# Largest difference between the signed energy and the CDR's total_energy that is not a finding.
# One watt-hour: the resolution of a kWh register with three decimals, the finest that meters
# show and that OCMF records carry. A CDR rounded coarser than that disagrees with what the meter
# signed, and under calibration law the signed value is the one that may be billed.
ENERGY_TOLERANCE_KWH = Decimal("0.001")

OCMF_ENCODING = "OCMF"
_OCMF_PREFIX = "OCMF|"
_BEGIN = "B"
# OCMF reading reasons that end a transaction: End, and terminated Locally, Remotely, by Abort or
# by Power failure.
_END = frozenset({"E", "L", "R", "A", "P"})


class SignedValueOutcome(StrEnum):
    VERIFIED = "VERIFIED"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    NO_PUBLIC_KEY = "NO_PUBLIC_KEY"
    UNSUPPORTED_ENCODING = "UNSUPPORTED_ENCODING"
    MALFORMED = "MALFORMED"


@dataclass(frozen=True)
class MeterReading:
    """One reading of an OCMF record (``RD``), in the record's own terms."""

    time: datetime
    time_status: str  # TM suffix: S synchronized, I informative, R relative, U unknown
    type: str  # TX: B begin, C charging, E end, ... (empty when the record has none)
    register: str  # RI: OBIS code
    value: Decimal | None
    unit: str  # RU: kWh, Wh, mOhm, ...
    status: str  # ST: G is OK
    error_flags: str  # EF: E energy, t time
    law_relevant: bool  # an energy register the calibration-law checks compare
    loss_compensated: bool
    export: bool  # energy fed back rather than charged

    @property
    def kwh(self) -> Decimal | None:
        """The value in kWh, or None when it is not an energy value."""
        if self.value is None:
            return None
        unit = self.unit.lower()
        if unit == "kwh":
            return self.value
        if unit == "wh":
            return self.value / 1000
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "time_status": self.time_status,
            "type": self.type,
            "register": self.register,
            "value": None if self.value is None else str(self.value),
            "unit": self.unit,
            "status": self.status,
            "error_flags": self.error_flags,
        }


@dataclass(frozen=True)
class SignedValueResult:
    """What one OCPI SignedValue proves. Readings of a value that is not VERIFIED are what the
    record claims, not proven."""

    index: int
    nature: str
    outcome: SignedValueOutcome
    message: str
    readings: tuple[MeterReading, ...] = ()
    signature_algorithm: str = ""
    meter_serial: str = ""
    # Whether plain_data says what the signed record says (None: nothing comparable in it).
    plain_data_matches: bool | None = None
    spec_warnings: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        return self.outcome is SignedValueOutcome.VERIFIED

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "nature": self.nature,
            "outcome": str(self.outcome),
            "message": self.message,
            "signature_algorithm": self.signature_algorithm,
            "meter_serial": self.meter_serial,
            "plain_data_matches": self.plain_data_matches,
            "spec_warnings": list(self.spec_warnings),
            "readings": [r.as_json() for r in self.readings],
        }


@dataclass(frozen=True)
class SignedEnergy:
    """The energy between a begin and an end reading of one register, both verified."""

    begin: MeterReading
    end: MeterReading
    kwh: Decimal  # end - begin, in kWh


@dataclass(frozen=True)
class SignedDataReport:
    """The outcome of checking a CDR's signed meter data; see :func:`signed_data_verify`."""

    present: bool
    total_energy: Decimal
    encoding_method: str = ""
    encoding_method_version: str = ""
    has_public_key: bool = False
    url: str = ""
    # Set when the SignedData object itself cannot be read (then there are no values).
    problem: str = ""
    values: tuple[SignedValueResult, ...] = ()
    signed_energy: SignedEnergy | None = None
    tolerance: Decimal = ENERGY_TOLERANCE_KWH

    @property
    def verified_values(self) -> tuple[SignedValueResult, ...]:
        return tuple(v for v in self.values if v.verified)

    @property
    def energy_difference(self) -> Decimal | None:
        """Signed energy minus total_energy, in kWh (None when nothing signed proves it)."""
        if self.signed_energy is None:
            return None
        return self.signed_energy.kwh - self.total_energy

    @property
    def energy_matches(self) -> bool | None:
        difference = self.energy_difference
        return None if difference is None else abs(difference) <= self.tolerance


def signed_data_verify(*, cdr: Cdr) -> SignedDataReport:
    """Verify ``cdr.signed_data`` and work out the energy it proves. Reads nothing else and
    writes nothing: the same CDR always gives the same report."""
    data = cdr.signed_data
    total_energy = cdr.total_energy
    if data is None or data == {}:
        return SignedDataReport(present=False, total_energy=total_energy)
    if not isinstance(data, Mapping):
        return SignedDataReport(
            present=True, total_energy=total_energy, problem="signed_data is not a JSON object"
        )
    method = _text(data.get("encoding_method"))
    version = data.get("encoding_method_version")
    raw_key = data.get("public_key")
    report = SignedDataReport(
        present=True,
        total_energy=total_energy,
        encoding_method=method,
        encoding_method_version="" if version is None else str(version),
        has_public_key=bool(_text(raw_key).strip()),
        url=_text(data.get("url")),
    )
    raw_values = data.get("signed_values")
    if not isinstance(raw_values, list) or not raw_values:
        return replace(report, problem="signed_data has no signed_values")

    is_ocmf = method.strip().upper() == OCMF_ENCODING  # a CiString: case-insensitive
    key, key_problem = _public_key(raw_key) if is_ocmf else (None, "")
    values = tuple(
        _verify_value(index, raw, method=method, is_ocmf=is_ocmf, key=key, key_problem=key_problem)
        for index, raw in enumerate(raw_values, start=1)
    )
    return replace(report, values=values, signed_energy=_signed_energy(values))


# -- one signed value ------------------------------------------------------------------------
def _verify_value(
    index: int,
    raw: object,
    *,
    method: str,
    is_ocmf: bool,
    key: PublicKey | None,
    key_problem: str,
) -> SignedValueResult:
    if not isinstance(raw, Mapping):
        return SignedValueResult(
            index, "", SignedValueOutcome.MALFORMED, "the signed value is not a JSON object"
        )
    nature = _text(raw.get("nature"))
    if not is_ocmf:
        return SignedValueResult(
            index,
            nature,
            SignedValueOutcome.UNSUPPORTED_ENCODING,
            f"encoding method {method!r} cannot be verified here: only OCMF can",
        )
    record = _ocmf_record(raw.get("signed_data")) or _ocmf_record(raw.get("plain_data"))
    if record is None:
        return SignedValueResult(
            index,
            nature,
            SignedValueOutcome.MALFORMED,
            "neither signed_data nor plain_data holds an OCMF record (OCMF|payload|signature)",
        )
    try:
        with _spec_warnings() as deviations:
            parsed = OCMF.from_string(record)
    except (PyOCMFError, ValueError, TypeError) as exc:
        return SignedValueResult(
            index, nature, SignedValueOutcome.MALFORMED, f"the OCMF record cannot be read: {exc}"
        )

    algorithm = parsed.signature.SA
    encoding = parsed.signature.SE

    def result(outcome: SignedValueOutcome, message: str) -> SignedValueResult:
        return SignedValueResult(
            index=index,
            nature=nature,
            outcome=outcome,
            message=message,
            readings=tuple(_reading(r) for r in parsed.payload.RD),
            signature_algorithm="" if algorithm is None else str(algorithm),
            meter_serial=parsed.payload.MS or "",
            plain_data_matches=_plain_data_matches(raw.get("plain_data"), record),
            spec_warnings=tuple(deviations),
        )

    if not isinstance(algorithm, SignatureMethod):
        return result(
            SignedValueOutcome.UNSUPPORTED_ENCODING,
            f"signature algorithm {algorithm!r} is not one that OCMF defines",
        )
    if encoding is not None and not isinstance(encoding, SignatureEncodingType):
        return result(
            SignedValueOutcome.UNSUPPORTED_ENCODING,
            f"signature encoding {encoding!r} is neither hex nor base64",
        )
    if key_problem:
        return result(SignedValueOutcome.MALFORMED, key_problem)
    if key is None:
        return result(
            SignedValueOutcome.NO_PUBLIC_KEY,
            "the CDR carries no public key: the readings are what the record claims, not proven",
        )
    if not key.matches_signature_algorithm(algorithm):
        return result(
            SignedValueOutcome.INVALID_SIGNATURE,
            f"the public key is a {key.curve} key but the record was signed with {algorithm}",
        )
    try:
        valid = parsed.verify_signature(key)
    except (PyOCMFError, ValueError, TypeError) as exc:
        return result(SignedValueOutcome.MALFORMED, f"the signature cannot be checked: {exc}")
    if not valid:
        return result(
            SignedValueOutcome.INVALID_SIGNATURE,
            "the signature does not match the payload: the record was altered after signing, "
            "or signed with another key",
        )
    return result(SignedValueOutcome.VERIFIED, "signature valid")


def _public_key(raw: object) -> tuple[PublicKey | None, str]:
    """The CDR's public key, and why it cannot be used if it cannot.

    OCPI says Base64; OCMF meters publish hex. Both are DER SubjectPublicKeyInfo, and pyocmf
    reads either. PEM armour, which some CPOs send, is taken off.
    """
    text = _text(raw)
    if "-----BEGIN" in text:
        text = "".join(line for line in text.splitlines() if not line.startswith("-----"))
    text = "".join(text.split())
    if not text:
        return None, ""
    try:
        return PublicKey.from_string(text), ""
    except (PyOCMFError, ValueError, TypeError) as exc:
        return None, f"the public key cannot be read: {exc}"


def _ocmf_record(raw: object) -> str | None:
    """The OCMF record in a signed value's field: as text, hex or Base64 (OCPI says Base64;
    most CPOs send the record as it is)."""
    text = _text(raw).strip()
    if not text:
        return None
    if text.startswith(_OCMF_PREFIX):
        return text
    for decode in (bytes.fromhex, _b64decode):
        try:
            decoded = decode(text).decode("utf-8").strip()
        except (ValueError, UnicodeDecodeError):
            continue
        if decoded.startswith(_OCMF_PREFIX):
            return decoded
    return None


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from exc


def _payload_section(record: str) -> str:
    # Split as pyocmf does: header, payload, signature (and an optional appended key).
    parts = record.split("|", 3)
    return parts[1] if len(parts) > 1 else ""


def _plain_data_matches(plain: object, record: str) -> bool | None:
    """Whether plain_data, when it is an OCMF record or a payload, says what was signed.

    Compared as JSON, so whitespace or key order do not matter; anything else in plain_data (a
    vendor's own text) is not compared.
    """
    text = _text(plain).strip()
    if text.startswith(_OCMF_PREFIX):
        text = _payload_section(text)
    elif not text.startswith("{"):
        return None
    try:
        stated = json.loads(text, parse_float=Decimal)
        signed = json.loads(_payload_section(record), parse_float=Decimal)
    except ValueError:
        return False
    return bool(stated == signed)


def _reading(reading: Reading) -> MeterReading:
    register = reading.RI
    code = "" if register is None else str(register)
    groups = parse_obis(code) if code else None
    return MeterReading(
        time=reading.timestamp,
        time_status=str(reading.time_status),
        type="" if reading.TX is None else str(reading.TX),
        register=code,
        value=reading.RV,
        unit="" if reading.RU is None else str(reading.RU),
        status="" if reading.ST is None else str(reading.ST),
        error_flags=reading.EF or "",
        law_relevant=register is not None and register.is_law_relevant,
        loss_compensated=register is not None and register.is_loss_compensated,
        # OBIS C group 02 is active export; OCMF reserves C0-C7 for export registers.
        export=groups is not None and (groups.c == 0x02 or 0xC0 <= groups.c <= 0xC7),
    )


# -- the energy the signatures prove ---------------------------------------------------------
def _signed_energy(values: tuple[SignedValueResult, ...]) -> SignedEnergy | None:
    """Begin and end reading of the register the session is billed on, from verified values.

    As the Transparenzsoftware does: law-relevant import registers only, loss-compensated ones
    (energy at the car) taking precedence. The first register with a begin (TX=B) and an end
    reading wins; a register whose readings carry no TX at all pairs its first and last.
    """
    readings = [
        r
        for value in values
        if value.verified
        for r in value.readings
        if r.law_relevant and not r.export and r.kwh is not None
    ]
    compensated = [r for r in readings if r.loss_compensated]
    by_register: dict[str, list[MeterReading]] = {}
    for reading in compensated or readings:
        by_register.setdefault(reading.register, []).append(reading)
    for group in by_register.values():
        begins = [r for r in group if r.type == _BEGIN]
        ends = [r for r in group if r.type in _END]
        if begins and ends:
            return _pair(begins[0], ends[-1])
        if len(group) > 1 and not any(r.type for r in group):
            return _pair(group[0], group[-1])
    return None


def _pair(begin: MeterReading, end: MeterReading) -> SignedEnergy:
    start_kwh, end_kwh = begin.kwh, end.kwh
    assert start_kwh is not None  # only energy readings are paired
    assert end_kwh is not None
    return SignedEnergy(begin=begin, end=end, kwh=end_kwh - start_kwh)


# -- helpers -----------------------------------------------------------------------------------
def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


# catch_warnings swaps process-wide state; two threads interleaving enter/exit would leave the
# other's recorder installed for good. The lock keeps our own callers from interleaving.
_WARNINGS_LOCK = threading.Lock()


@contextmanager
def _spec_warnings() -> Iterator[list[str]]:
    """Collect the spec deviations pyocmf reports (as SpecWarning) while parsing a record."""
    collected: list[str] = []
    with _WARNINGS_LOCK:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SpecWarning)
            try:
                yield collected
            finally:
                others = [w for w in caught if not issubclass(w.category, SpecWarning)]
                collected.extend(str(w.message) for w in caught if w not in others)
        for w in others:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
