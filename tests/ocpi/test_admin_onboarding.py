"""Onboarding and running OCPI connections from the admin (apps/ocpi/admin_connections.py).

The register and rotate flows run against a second roamdesk platform over real HTTP
(tests/ocpi/peer.py), like tests/ocpi/test_handshake.py.
"""

from __future__ import annotations

import base64
import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.core.models import AuditLogEntry
from apps.ocpi.adapters.registry import profiles
from apps.ocpi.admin_connections import OPERATIONS, Operation, connection_exchange_health
from apps.ocpi.common.client import OcpiClient
from apps.ocpi.models import (
    DeliveryStatus,
    Direction,
    ExchangeLogEntry,
    OutboundDelivery,
    SyncCursor,
)
from apps.ocpi.versions import STANDARD_PROFILE, VersionNumber
from apps.partners.enums import ConnectionStatus
from apps.partners.models import Partner, PartnerConnection
from tests.factories import ConnectionFactory, PartnerFactory, PartyFactory
from tests.ocpi.peer import PeerPlatform
from tests.ocpi.peer import peer_platform as peer_platform  # fixture

TOKEN_ON_PAGE = re.compile(r'<code class="roamdesk-token" id="token-a-(\d+)">([^<]+)</code>')


def admin_url(name: str, *args: Any) -> str:
    return reverse(f"admin:partners_partnerconnection_{name}", args=args)


def page_messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def audit_actions(connection: PartnerConnection) -> list[str]:
    return list(
        AuditLogEntry.objects.filter(object_id=str(connection.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )


def select_options(content: str, name: str) -> list[str]:
    match = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', content, re.S)
    assert match, f"no <select name={name!r}> on the page"
    return re.findall(r'<option value="([^"]*)"', match[1])


# -- invite ----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_invite_creates_a_pending_connection_and_shows_token_a_once(staff_client: Client) -> None:
    changelist = staff_client.get(admin_url("changelist"))
    assert changelist.status_code == 200
    assert f'href="{admin_url("invite")}"' in changelist.content.decode()
    assert f'href="{admin_url("register")}"' in changelist.content.decode()

    form = staff_client.get(admin_url("invite"))
    assert form.status_code == 200
    assert select_options(form.content.decode(), "profile") == profiles()

    response = staff_client.post(
        admin_url("invite"),
        {"new_partner": "Lumen Roaming", "profile": STANDARD_PROFILE, "name": "lumen main"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    connection = PartnerConnection.objects.get(partner__name="Lumen Roaming")
    assert connection.name == "lumen main"
    assert connection.status == ConnectionStatus.PENDING
    assert connection.issued_token_is_registration
    assert connection.issued_token_expires_at is not None
    assert connection.issued_token_expires_at > timezone.now() + timedelta(days=1)

    found = TOKEN_ON_PAGE.findall(content)
    assert len(found) == 1
    shown_for, token = int(found[0][0]), html.unescape(found[0][1])
    assert shown_for == connection.pk
    assert connection.issued_token_matches(token)
    assert "shown only this once" in content
    assert "secure channel" in content
    assert "http://testserver/ocpi/versions" in content
    assert admin_url("change", connection.pk) in content

    # The token travels in the page only: not in a cookie (messages may live there), not cached.
    assert all(token not in morsel.value for morsel in response.cookies.values())
    assert all(token not in morsel.value for morsel in staff_client.cookies.values())
    assert page_messages(response) == []
    assert "no-store" in response["Cache-Control"]
    assert "connection.token_issued" in audit_actions(connection)

    # What the partner will do with it: its Base64 form opens our versions endpoint.
    encoded = base64.b64encode(token.encode()).decode()
    versions = Client().get("/ocpi/versions", headers={"Authorization": f"Token {encoded}"})
    assert versions.status_code == 200
    assert versions.json()["status_code"] == 1000
    wrong = base64.b64encode(b"not-the-token").decode()
    assert (
        Client().get("/ocpi/versions", headers={"Authorization": f"Token {wrong}"}).status_code
        == 401
    )


@pytest.mark.django_db
def test_invite_for_an_existing_partner_and_form_errors(staff_client: Client) -> None:
    partner = PartnerFactory.create(name="Volta")
    ConnectionFactory.create(partner=partner, name="taken")

    def post(**data: str) -> str:
        response = staff_client.post(admin_url("invite"), {"profile": STANDARD_PROFILE, **data})
        assert response.status_code == 200
        return response.content.decode()

    assert "not both" in post(partner=str(partner.pk), new_partner="Other")
    assert "Choose an existing partner or name a new one" in post()
    assert "A partner of this name exists" in post(new_partner="volta")
    assert "already has a connection with this label" in post(partner=str(partner.pk), name="taken")
    assert "Select a valid choice" in post(partner=str(partner.pk), profile="no-such-profile")
    assert PartnerConnection.objects.filter(partner=partner).count() == 1
    assert not Partner.objects.filter(name="Other").exists()

    content = post(partner=str(partner.pk))
    assert TOKEN_ON_PAGE.search(content)
    assert PartnerConnection.objects.filter(partner=partner, status="PENDING").count() == 2


# -- register with a real second platform ----------------------------------------------------------
def ocpi_status_of(url: str, token: str) -> int:
    with OcpiClient(token=token) as client:
        return client.get(url).http_status


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_register_rotate_suspend_resume_unregister_with_a_peer(
    us: str, peer_platform: PeerPlatform, staff_client: Client
) -> None:
    peer = peer_platform
    invite = peer.invite("roamdesk NL")
    form = staff_client.get(admin_url("register"))
    assert form.status_code == 200
    assert 'type="password" name="token_a"' in form.content.decode()

    # A wrong token: the error, its OCPI status and the steps done; the token is not echoed.
    wrong = staff_client.post(
        admin_url("register"),
        {
            "new_partner": "Peer eMSP",
            "versions_url": invite["versions_url"],
            "token_a": "wrong-token-0123456789",
            "profile": STANDARD_PROFILE,
        },
    )
    assert wrong.status_code == 200
    content = wrong.content.decode()
    assert "The handshake failed" in content
    assert "OCPI status 3001" in content
    assert "No step completed" in content
    assert "wrong-token-0123456789" not in content
    assert invite["versions_url"] in content  # the rest of the form is kept
    assert not Partner.objects.filter(name="Peer eMSP").exists()  # nothing left behind

    response = staff_client.post(
        admin_url("register"),
        {
            "new_partner": "Peer eMSP",
            "versions_url": invite["versions_url"],
            "token_a": invite["token_a"],
            "profile": STANDARD_PROFILE,
            "name": "peer main",
        },
    )
    assert response.status_code == 200
    content = response.content.decode()
    connection = PartnerConnection.objects.get(partner__name="Peer eMSP", name="peer main")
    assert connection.status == ConnectionStatus.CONNECTED
    assert [p.code for p in connection.represented_parties.all()] == ["DE*PBB"]
    for step in ("versions fetched", "token B issued", "credentials POSTed", "registered"):
        assert step in content
    assert admin_url("change", connection.pk) in content
    assert invite["token_a"] not in content
    assert peer.connection_state(invite["id"])["status"] == ConnectionStatus.CONNECTED

    # The change page offers the operations of a connected connection.
    page = staff_client.get(admin_url("change", connection.pk)).content.decode()
    for operation in ("rotate", "suspend", "unregister"):
        assert admin_url(operation, connection.pk) in page
    assert admin_url("resume", connection.pk) not in page
    assert "DE*PBB" in page

    # Rotate (the change page button): new tokens both ways.
    old_send_token = connection.send_token
    response = staff_client.post(admin_url("rotate", connection.pk), follow=True)
    assert response.status_code == 200
    assert any("credentials rotated" in m for m in page_messages(response))
    connection.refresh_from_db()
    assert connection.send_token not in (None, old_send_token)
    assert "connection.rotated" in audit_actions(connection)
    peer_token = peer.connection_state(invite["id"])["send_token"]
    assert ocpi_status_of(f"{us}/ocpi/versions", peer_token) == 200

    # Suspend (list action, confirmed): the peer is refused until resumed (change page button).
    response = staff_client.post(
        admin_url("changelist"),
        {"action": "suspend_connections", "_selected_action": [connection.pk], "post": "yes"},
        follow=True,
    )
    assert any("suspended" in m for m in page_messages(response))
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.SUSPENDED
    assert ocpi_status_of(f"{us}/ocpi/versions", peer_token) == 401
    response = staff_client.post(admin_url("resume", connection.pk), follow=True)
    assert any("resumed" in m for m in page_messages(response))
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.CONNECTED
    assert ocpi_status_of(f"{us}/ocpi/versions", peer_token) == 200
    assert audit_actions(connection)[-2:] == ["connection.suspended", "connection.resumed"]

    # Unregister (list action, after a confirmation page): ended on both sides.
    selection = {"action": "unregister_connections", "_selected_action": [connection.pk]}
    confirm = staff_client.post(admin_url("changelist"), selection)
    assert confirm.status_code == 200
    assert "are you sure" in confirm.content.decode()
    assert PartnerConnection.objects.get(pk=connection.pk).status == ConnectionStatus.CONNECTED
    response = staff_client.post(admin_url("changelist"), {**selection, "post": "yes"}, follow=True)
    assert any("unregistered" in m for m in page_messages(response))
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.UNREGISTERED
    assert peer.connection_state(invite["id"])["status"] == ConnectionStatus.UNREGISTERED
    assert ocpi_status_of(f"{us}/ocpi/versions", peer_token) == 401


# -- operations without a partner ------------------------------------------------------------------
CONFIRMED = [op for op in OPERATIONS.values() if op.confirm]


def confirmation_text(content: str) -> str:
    match = re.search(r'<p class="roamdesk-confirmation">(.*?)</p>', content, re.S)
    assert match, "no confirmation text on the page"
    return html.unescape(match[1]).strip()


@pytest.mark.django_db
@pytest.mark.parametrize("operation", CONFIRMED, ids=[op.slug for op in CONFIRMED])
def test_each_confirmed_operation_asks_with_its_own_text(
    staff_client: Client, operation: Operation
) -> None:
    connection = ConnectionFactory.create(status=ConnectionStatus.CONNECTED)
    before = audit_actions(connection)

    page = staff_client.get(admin_url("change", connection.pk)).content.decode()
    assert f'<a href="{admin_url(operation.slug, connection.pk)}">{operation.label}</a>' in page
    confirm = staff_client.get(admin_url(operation.slug, connection.pk))
    assert confirm.status_code == 200
    content = confirm.content.decode()
    assert f"{operation.label}: are you sure?" in content
    assert confirmation_text(content) == operation.confirmation
    for other in CONFIRMED:
        if other is not operation:
            assert other.confirmation not in content
    # Asking changed nothing.
    assert audit_actions(connection) == before
    assert PartnerConnection.objects.get(pk=connection.pk).status == ConnectionStatus.CONNECTED


def test_confirmation_texts_are_distinct_and_only_unregister_speaks_of_reregistering() -> None:
    texts = [op.confirmation for op in CONFIRMED]
    assert {"rotate", "suspend", "unregister", "push-all"} <= {op.slug for op in CONFIRMED}
    assert len(set(texts)) == len(texts)
    assert [op.slug for op in CONFIRMED if "new registration" in op.confirmation] == ["unregister"]
    assert "queued in the outbox" in OPERATIONS["push-all"].confirmation


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "slug"),
    [
        ("rotate_credentials", "rotate"),
        ("suspend_connections", "suspend"),
        ("unregister_connections", "unregister"),
    ],
)
def test_confirmed_list_actions_ask_first_with_their_own_text(
    staff_client: Client, action: str, slug: str
) -> None:
    connection = ConnectionFactory.create(status=ConnectionStatus.CONNECTED)
    response = staff_client.post(
        admin_url("changelist"), {"action": action, "_selected_action": [connection.pk]}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert confirmation_text(content) == OPERATIONS[slug].confirmation
    assert f'<input type="hidden" name="action" value="{action}">' in content
    assert audit_actions(connection) == []
    assert PartnerConnection.objects.get(pk=connection.pk).status == ConnectionStatus.CONNECTED


@pytest.mark.django_db
def test_operations_report_refusals_as_messages(staff_client: Client) -> None:
    pending = ConnectionFactory.create(status=ConnectionStatus.PENDING)
    connected = ConnectionFactory.create(status=ConnectionStatus.CONNECTED)

    def run(action: str, *connections: PartnerConnection) -> list[str]:
        response = staff_client.post(
            admin_url("changelist"),
            {"action": action, "_selected_action": [c.pk for c in connections], "post": "yes"},
            follow=True,
        )
        assert response.status_code == 200
        return page_messages(response)

    # Rotating needs a registered connection: an error with its OCPI status, no 500.
    (message,) = run("rotate_credentials", pending)
    assert "only a registered connection" in message
    assert "OCPI status 3001" in message
    # Suspend and resume only from the right status, each connection on its own.
    assert run("suspend_connections", pending, connected) == [
        f"{pending}: the connection is pending (registration token issued), not connected",
        f"{connected}: suspended (its calls are refused until resumed).",
    ]
    (message,) = run("resume_connections", pending)
    assert "not suspended by us" in message
    connected.refresh_from_db()
    pending.refresh_from_db()
    assert (connected.status, pending.status) == ("SUSPENDED", "PENDING")
    assert audit_actions(connected) == ["connection.suspended"]
    assert audit_actions(pending) == []
    entry = AuditLogEntry.objects.get(object_id=str(connected.pk))
    assert (entry.actor_label, entry.before, entry.after) == (
        "ops",
        {"status": "CONNECTED"},
        {"status": "SUSPENDED"},
    )

    # The change page buttons answer the same way, and only to POST.
    assert staff_client.get(admin_url("resume", connected.pk)).status_code == 405
    response = staff_client.post(admin_url("suspend", connected.pk), follow=True)
    assert response.status_code == 200
    assert any("not connected" in m for m in page_messages(response))
    response = staff_client.post(admin_url("resume", connected.pk), follow=True)
    assert any("resumed" in m for m in page_messages(response))

    # Unregistering a pending connection withdraws the invitation (no partner to tell).
    confirm = staff_client.get(admin_url("unregister", pending.pk))
    assert confirm.status_code == 200
    assert "are you sure" in confirm.content.decode()
    response = staff_client.post(admin_url("unregister", pending.pk), follow=True)
    assert any("unregistered" in m for m in page_messages(response))
    pending.refresh_from_db()
    assert pending.status == ConnectionStatus.UNREGISTERED
    assert pending.issued_token_hash is None

    # An unknown id redirects to the list instead of failing.
    response = staff_client.post(admin_url("suspend", 999999), follow=True)
    assert response.status_code == 200
    assert any("No connection" in m for m in page_messages(response))


@pytest.mark.django_db
def test_issuing_token_a_again_shows_it_on_a_page_not_in_a_message(staff_client: Client) -> None:
    connection = ConnectionFactory.create(status=ConnectionStatus.PENDING)
    response = staff_client.post(
        admin_url("changelist"),
        {"action": "hand_out_registration_token", "_selected_action": [connection.pk]},
    )
    assert response.status_code == 200
    (found,) = TOKEN_ON_PAGE.findall(response.content.decode())
    connection.refresh_from_db()
    assert connection.issued_token_matches(html.unescape(found[1]))
    assert connection.issued_token_expires_at is not None
    assert page_messages(response) == []
    assert all(found[1] not in morsel.value for morsel in response.cookies.values())


# -- the change page and the list ------------------------------------------------------------------
def log_exchange(
    connection: PartnerConnection, *, ago: timedelta, http: int | None, ocpi: int | None
) -> ExchangeLogEntry:
    return ExchangeLogEntry.objects.create(
        connection=connection,
        created_at=timezone.now() - ago,
        direction=Direction.OUTBOUND,
        method="GET",
        url="https://partner.example/ocpi/versions",
        http_status=http,
        ocpi_status=ocpi,
    )


@pytest.mark.django_db
def test_exchange_health_in_one_query(django_assert_num_queries: Any) -> None:
    connection = ConnectionFactory.create()
    last_ok = log_exchange(connection, ago=timedelta(hours=1), http=200, ocpi=1000)
    log_exchange(connection, ago=timedelta(hours=2), http=204, ocpi=None)
    log_exchange(connection, ago=timedelta(minutes=5), http=500, ocpi=None)
    log_exchange(connection, ago=timedelta(minutes=6), http=200, ocpi=2001)
    log_exchange(connection, ago=timedelta(minutes=7), http=None, ocpi=None)
    log_exchange(connection, ago=timedelta(days=2), http=200, ocpi=1000)
    log_exchange(connection, ago=timedelta(days=3), http=401, ocpi=2000)
    log_exchange(ConnectionFactory.create(), ago=timedelta(minutes=1), http=500, ocpi=None)

    with django_assert_num_queries(1):
        health = connection_exchange_health(connection_id=connection.pk)
    assert health == {"succeeded": 2, "failed": 3, "last_success": last_ok.created_at}

    # Failing for more than a day: the last success is found before the window.
    quiet = ConnectionFactory.create()
    old_ok = log_exchange(quiet, ago=timedelta(days=2), http=200, ocpi=1000)
    log_exchange(quiet, ago=timedelta(days=3), http=200, ocpi=1000)
    log_exchange(quiet, ago=timedelta(hours=1), http=502, ocpi=None)
    with django_assert_num_queries(1):
        health = connection_exchange_health(connection_id=quiet.pk)
    assert health == {"succeeded": 0, "failed": 1, "last_success": old_ok.created_at}
    assert connection_exchange_health(connection_id=ConnectionFactory.create().pk) == {
        "succeeded": 0,
        "failed": 0,
        "last_success": None,
    }


@pytest.mark.django_db
def test_change_page_shows_health_and_represented_parties(staff_client: Client) -> None:
    connection = ConnectionFactory.create(
        status=ConnectionStatus.CONNECTED,
        version=VersionNumber.V2_2_1.value,
        endpoints=[{"identifier": "credentials", "role": "SENDER", "url": "https://p.example/c"}],
        last_handshake_at=timezone.now(),
        last_error="credentials PUT failed: HTTP 503",
        last_error_at=timezone.now() - timedelta(minutes=30),
    )
    party = PartyFactory.create(partner=connection.partner, country_code="BE", party_id="VOL")
    party.roles = ["CPO", "EMSP"]
    party.save()
    connection.represented_parties.add(party)
    log_exchange(connection, ago=timedelta(hours=1), http=200, ocpi=1000)
    log_exchange(connection, ago=timedelta(hours=2), http=503, ocpi=None)

    response = staff_client.get(admin_url("change", connection.pk))
    assert response.status_code == 200
    content = response.content.decode()
    assert re.search(r"Succeeded, last 24 h</th><td>1</td>", content)
    assert re.search(r'Failed, last 24 h</th><td class="roamdesk-failed">1</td>', content)
    assert "Last successful exchange" in content
    assert "field-issued_token_expires_at" in content
    assert reverse("admin:partners_party_change", args=[party.pk]) in content
    assert "BE*VOL" in content
    assert "CPO, EMSP" in content
    assert "credentials PUT failed: HTTP 503" in content
    assert "https://p.example/c" in content  # endpoints, pretty and read-only
    assert 'name="represented_parties"' not in content
    assert 'name="status"' not in content  # status changes go through the operations
    assert reverse("admin:ocpi_exchangelogentry_changelist") in content

    # A connection without history or parties still opens; so does the add page.
    response = staff_client.get(admin_url("change", ConnectionFactory.create().pk))
    assert response.status_code == 200
    assert "none recorded" in response.content.decode()
    assert staff_client.get(admin_url("add")).status_code == 200


def last_failure_text(content: str) -> str:
    match = re.search(
        r'<div class="form-row field-last_failure">.*?<div class="readonly">(.*?)</div>',
        content,
        re.S,
    )
    assert match, "no last failure on the page"
    return html.unescape(match[1]).replace("\xa0", " ").strip()


@pytest.mark.django_db
def test_change_page_shows_the_most_recent_failure_from_wherever_it_was_recorded(
    staff_client: Client,
) -> None:
    """1,000 failed pushes leave no handshake error: the page shows the latest failure with
    its time and reason, whether the exchange log, the outbox or a sync cursor recorded it."""
    connection = ConnectionFactory.create(status=ConnectionStatus.CONNECTED)
    now = timezone.now()
    failed = log_exchange(connection, ago=timedelta(minutes=40), http=None, ocpi=None)
    failed.error = "connection refused"
    failed.save()
    log_exchange(connection, ago=timedelta(minutes=1), http=200, ocpi=1000)  # not a failure
    OutboundDelivery.objects.bulk_create(
        OutboundDelivery(
            connection=connection,
            module="cdrs",
            kind="cdr",
            object_id=i,
            object_label=f"CDR-{i}",
            attempts=3,
            last_attempt_at=now - timedelta(minutes=20, seconds=i),
            last_error="HTTP 503 from the partner",
        )
        for i in range(1000)
    )
    OutboundDelivery.objects.create(  # delivered after a failure: not a failure any more
        connection=connection,
        module="cdrs",
        kind="cdr",
        object_id=5000,
        status=DeliveryStatus.DELIVERED,
        attempts=2,
        last_attempt_at=now - timedelta(minutes=2),
        last_error="",
    )
    url = admin_url("change", connection.pk)

    shown = last_failure_text(staff_client.get(url).content.decode())
    assert "20 minutes ago" in shown
    pushed = "push of cdr CDR-0 (cdrs, attempt 3, will be retried): HTTP 503 from the partner"
    assert pushed in shown
    assert "Last error" not in staff_client.get(url).content.decode()

    SyncCursor.objects.create(
        connection=connection,
        module="locations",
        failures=4,
        consecutive_failures=4,
        last_error="GET https://partner.example/ocpi/locations: timed out",
        last_error_at=now - timedelta(minutes=5),
    )
    shown = last_failure_text(staff_client.get(url).content.decode())
    assert "5 minutes ago" in shown
    assert "pull of locations (4 failed runs in a row): GET https://partner.example" in shown

    newest = log_exchange(connection, ago=timedelta(seconds=30), http=None, ocpi=None)
    newest.error = "timed out after 20 s"
    newest.save()
    shown = last_failure_text(staff_client.get(url).content.decode())
    called = "outbound GET https://partner.example/ocpi/versions: no answer: timed out after 20 s"
    assert called in shown


@pytest.mark.django_db
def test_changelist_failure_column_without_a_query_per_row(staff_client: Client) -> None:
    first = ConnectionFactory.create(name="first")
    for minutes in (1, 2, 3):
        log_exchange(first, ago=timedelta(minutes=minutes), http=500, ocpi=None)
    log_exchange(first, ago=timedelta(days=2), http=500, ocpi=None)  # outside the window
    log_exchange(first, ago=timedelta(minutes=4), http=200, ocpi=1000)

    def changelist_queries() -> tuple[int, str]:
        with CaptureQueriesContext(db_connection) as ctx:
            response = staff_client.get(admin_url("changelist"))
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.decode()

    queries_for_one, content = changelist_queries()
    assert "Failures 24 h" in content
    assert re.search(rf'<a href="{admin_url("change", first.pk)}[^"]*">first</a>.*?'
                     r'<td class="field-failures_24h">3</td>', content, re.S)  # fmt: skip
    for _ in range(5):
        log_exchange(ConnectionFactory.create(), ago=timedelta(minutes=1), http=500, ocpi=None)
    assert changelist_queries()[0] == queries_for_one


# -- adapter profiles ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_adapter_profile_is_chosen_among_registered_profiles(staff_client: Client) -> None:
    connection = ConnectionFactory.create()
    content = staff_client.get(admin_url("change", connection.pk)).content.decode()
    assert select_options(content, "adapter_profile") == profiles()
    assert len(profiles()) > 1

    other = next(p for p in profiles() if p != STANDARD_PROFILE)
    data = {
        "partner": connection.partner.pk,
        "name": connection.name,
        "versions_url": connection.versions_url,
        "adapter_profile": other,
        "authorization_timeout": "3",
    }
    response = staff_client.post(admin_url("change", connection.pk), data)
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.adapter_profile == other

    response = staff_client.post(
        admin_url("change", connection.pk), {**data, "adapter_profile": "made-up"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert "Select a valid choice" in response.content.decode()

    # A profile stored earlier and no longer registered is shown as such and must be replaced.
    PartnerConnection.objects.filter(pk=connection.pk).update(adapter_profile="retired")
    content = staff_client.get(admin_url("change", connection.pk)).content.decode()
    assert select_options(content, "adapter_profile") == [*profiles(), "retired"]
    assert "retired (not registered)" in content
    response = staff_client.post(
        admin_url("change", connection.pk), {**data, "adapter_profile": "retired"}
    )
    assert response.status_code == 200
    assert "not a registered adapter profile" in response.content.decode()


# -- permissions ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_onboarding_needs_change_permission_and_a_csrf_token() -> None:
    connection = ConnectionFactory.create(status=ConnectionStatus.CONNECTED)
    viewer = get_user_model().objects.create_user(username="viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_partnerconnection"))
    client = Client()
    client.force_login(viewer)
    changelist = client.get(admin_url("changelist"))
    assert changelist.status_code == 200
    assert admin_url("invite") not in changelist.content.decode()
    assert (
        admin_url("suspend", connection.pk)
        not in client.get(admin_url("change", connection.pk)).content.decode()
    )
    assert client.get(admin_url("invite")).status_code == 403
    assert client.get(admin_url("register")).status_code == 403
    assert client.post(admin_url("suspend", connection.pk)).status_code == 403
    assert PartnerConnection.objects.get(pk=connection.pk).status == ConnectionStatus.CONNECTED

    admin_client = Client(enforce_csrf_checks=True)
    admin_client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    assert admin_client.post(admin_url("suspend", connection.pk)).status_code == 403
    invite = {"new_partner": "No CSRF", "profile": STANDARD_PROFILE}
    assert admin_client.post(admin_url("invite"), invite).status_code == 403
    assert not Partner.objects.filter(name="No CSRF").exists()
