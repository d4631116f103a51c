"""The spec's own example payloads (copied unmodified into tests/fixtures) parse, and what we
render has their shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.ocpi.adapters.base import CredentialsInfo, PartyRole
from apps.ocpi.adapters.registry import get_adapter
from apps.ocpi.common import jsonutil
from apps.ocpi.versions import STANDARD_PROFILE, VersionNumber

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ocpi" / "2.2.1"
ADAPTER = get_adapter(STANDARD_PROFILE, VersionNumber.V2_2_1)


def load(path: Path) -> object:
    return jsonutil.loads(path.read_bytes())


@pytest.mark.parametrize(
    "path", sorted((FIXTURES / "credentials").glob("*.json")), ids=lambda p: p.name
)
def test_credentials_examples_round_trip(path: Path) -> None:
    example = load(path)
    parsed = ADAPTER.parse_credentials(example)
    assert parsed.token == example["token"]  # type: ignore[index]
    assert len(parsed.roles) == len(example["roles"])  # type: ignore[index]
    rendered = ADAPTER.render_credentials(parsed)
    assert json.loads(jsonutil.dumps(rendered)) == json.loads(path.read_text())


def test_version_examples_parse() -> None:
    versions = ADAPTER.parse_versions(load(FIXTURES / "versions" / "versions_info_example.json"))
    assert [v.version for v in versions] == ["2.1.1", "2.2.1"]
    wrapped = load(FIXTURES / "versions" / "transport_and_format_version_info_example.json")
    assert [v.url for v in ADAPTER.parse_versions(wrapped["data"])] == [  # type: ignore[index]
        "https://example.com/ocpi/cpo/2.1.1",
        "https://example.com/ocpi/cpo/2.2",
    ]
    for name in ("version_details_example.json", "version_details_example2.json"):
        endpoints = ADAPTER.parse_version_details(load(FIXTURES / "versions" / name))
        assert {e.identifier for e in endpoints} >= {"credentials", "locations"}


def test_our_credentials_have_the_examples_shape() -> None:
    ours = ADAPTER.render_credentials(
        CredentialsInfo(
            token="t0k3n",
            url="https://roamdesk.example/ocpi/versions",
            roles=[PartyRole(role="CPO", country_code="NL", party_id="RDK", name="roamdesk")],
        )
    )
    example = json.loads((FIXTURES / "credentials" / "credentials_example.json").read_text())
    assert ours.keys() == example.keys()
    assert ours["roles"][0].keys() == example["roles"][0].keys()
    assert ours["roles"][0]["business_details"] == {"name": "roamdesk"}


def test_optional_fields_may_be_null() -> None:
    """Spec §0: an optional field may be omitted or null (extrawest-ocpi sends nulls)."""
    parsed = ADAPTER.parse_credentials(
        {
            "token": "t",
            "url": "https://partner.example/versions",
            "roles": [
                {
                    "role": "EMSP",
                    "party_id": "xwe",
                    "country_code": "de",
                    "business_details": {"name": "X", "website": None, "logo": None},
                }
            ],
        }
    )
    assert parsed.roles[0] == PartyRole(role="EMSP", country_code="DE", party_id="XWE", name="X")
