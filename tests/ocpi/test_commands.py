from __future__ import annotations

import base64
import io
import json
import socket

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection

pytestmark = pytest.mark.django_db


def test_ocpi_invite_prints_a_working_token_a(client: Client) -> None:
    out = io.StringIO()
    call_command("ocpi_invite", "--json", "--partner", "ABC Mobility", stdout=out)
    invite = json.loads(out.getvalue())
    assert invite["versions_url"] == "http://testserver/ocpi/versions"
    connection = PartnerConnection.objects.get(pk=invite["connection_id"])
    assert connection.status == ConnectionStatus.PENDING
    assert connection.partner.name == "ABC Mobility"
    assert connection.issued_token_expires_at is not None
    auth = "Token " + base64.b64encode(invite["token_a"].encode()).decode()
    assert client.get("/ocpi/versions", headers={"Authorization": auth}).status_code == 200

    text = io.StringIO()
    call_command("ocpi_invite", "--partner", "ABC Mobility", stdout=text)
    assert "token A:" in text.getvalue()
    assert PartnerConnection.objects.filter(partner__name="ABC Mobility").count() == 2


@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True)
def test_ocpi_register_fails_clearly_when_the_partner_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CommandError, match=r"registration failed \(3001\): cannot GET"):
        call_command("ocpi_register", f"http://127.0.0.1:{port}/ocpi/versions", "token-a")
    assert not PartnerConnection.objects.filter(status=ConnectionStatus.CONNECTED).exists()


@override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True)
@pytest.mark.parametrize("token_a", ["-k3Fq-abc", "--looks-like-an-option", "-vk3Fq", "-p=x"])
def test_ocpi_register_takes_a_token_a_that_starts_with_a_dash(token_a: str) -> None:
    """About 1 in 64 random tokens start with "-": it is still the token, not an option."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/ocpi/versions"
    with pytest.raises(CommandError, match=r"registration failed \(3001\): cannot GET"):
        call_command("ocpi_register", url, token_a, "--partner", "Dash")
    # Real options still work, before or after the values.
    with pytest.raises(CommandError, match="registration failed"):
        call_command("ocpi_register", "--partner", "Dash", url, token_a)
    with pytest.raises(CommandError, match="unrecognized arguments"):
        call_command("ocpi_register", url, token_a, "extra")


def test_ocpi_register_refuses_a_local_partner_in_production_mode() -> None:
    with pytest.raises(CommandError, match="registration failed"):
        call_command("ocpi_register", "http://127.0.0.1:9/ocpi/versions", "token-a")
