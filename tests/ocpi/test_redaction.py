"""Credentials never reach what operators read: URL user info, Authorization values and
token-like keys are redacted in the exchange log, outbound deliveries, sync cursors, the
connection's last error and background job failures (one helper: apps.core.redaction)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from apps.core.housekeeping import job_failure_record
from apps.core.models import JobFailure
from apps.core.redaction import redact_data, redact_text
from apps.ocpi.common.client import OcpiClient, OcpiTransportError
from apps.ocpi.models import ExchangeLogEntry, OutboundDelivery, SyncCursor
from apps.ocpi.services.delivery import deliveries_run
from apps.ocpi.services.sync import sync_run
from tests.factories import ConnectionFactory
from tests.ocpi.httpserver import OcpiPeer, envelope
from tests.ocpi.outbox_helpers import emsp_connection, final_cdr
from tests.ocpi.test_sync import MODULE, hub_connection

pytestmark = pytest.mark.django_db

SECRETS = ("hunter2", "s3cret", "c2VjcmV0LXRva2Vu", "tok-A-123", "pw-9")
# A partner's error text quoting its own internals, as partners' error pages do.
LEAKY = (
    "upstream https://svc:hunter2@db.partner.example/x failed; "
    "headers {'Authorization': 'Token c2VjcmV0LXRva2Vu'}; token_a=tok-A-123 password: pw-9"
)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, text
    assert "[redacted]" in text


@pytest.fixture(autouse=True)
def _local() -> Iterator[None]:
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True, OCPI_OUTBOUND_TIMEOUT=2):
        yield


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("GET https://user:s3cret@partner.example/ocpi failed", "@partner.example/ocpi"),
        ("Authorization: Token c2VjcmV0LXRva2Vu", "Authorization: Token "),
        ('{"authorization": "Bearer s3cret"}', '"authorization": "Bearer '),
        ("https://h/cdrs?token=s3cret&limit=10", "&limit=10"),
        ('{"token_b": "s3cret", "client_secret": "hunter2"}', '"token_b": "'),
        ("PASSWORD=hunter2 api-key: s3cret", "PASSWORD="),
    ],
)
def test_redact_text(text: str, kept: str) -> None:
    redacted = redact_text(text)
    assert_clean(redacted)
    assert kept in redacted


def test_what_is_not_a_credential_is_kept() -> None:
    text = "token_uid: 0123 authorization_reference: REF-1 Token A was spent at https://h/x"
    assert redact_text(text) == text
    document = {"token": {"uid": "1"}, "uid": "0123", "url": "https://u:s3cret@h/v"}
    assert redact_data(document) == {
        "token": "[redacted]",
        "uid": "0123",
        "url": "https://[redacted]@h/v",
    }


def test_the_exchange_log_redacts_bodies_url_and_error(ocpi_peer: OcpiPeer) -> None:
    connection = ConnectionFactory.create(log_bodies=True)
    ocpi_peer.reply(
        envelope(
            {"token_a": "tok-A-123", "password": "pw-9", "url": "https://svc:hunter2@h/v"},
            status_code=3000,
            status_message=LEAKY,
        ),
        status=500,
    )
    with OcpiClient(token="t", connection=connection) as client:
        client.post(
            ocpi_peer.url("/ocpi/credentials") + "?token=s3cret",
            json={"Token_A": "tok-A-123", "nested": [{"secret": "s3cret"}]},
        )
    entry = ExchangeLogEntry.objects.get()
    assert_clean(entry.request_body)
    assert_clean(entry.response_body)
    assert_clean(entry.url)
    assert_clean(entry.error)


def test_a_broken_json_body_is_redacted_too(ocpi_peer: OcpiPeer) -> None:
    connection = ConnectionFactory.create(log_bodies=True)
    ocpi_peer.reply(
        b'{"status_code": 1000, "data": {"password": "pw-9", "url": "https://a:s3cret@h',
        status=500,
    )
    with OcpiClient(token="t", connection=connection) as client:
        client.get(ocpi_peer.url("/x"))
    assert_clean(ExchangeLogEntry.objects.get().response_body)


def test_an_outbound_delivery_keeps_its_error_without_credentials(ocpi_peer: OcpiPeer) -> None:
    connection = emsp_connection(ocpi_peer)
    ocpi_peer.reply(envelope(status_code=3000, status_message=LEAKY), status=500)
    final_cdr()
    deliveries_run(connection_id=connection.pk)
    delivery = OutboundDelivery.objects.get()
    assert "upstream" in delivery.last_error
    assert_clean(delivery.last_error)


def test_a_delivery_to_a_url_with_user_info_does_not_store_it(ocpi_peer: OcpiPeer) -> None:
    url = ocpi_peer.url("/cdrs").replace("http://", "http://push:s3cret@")
    connection = emsp_connection(ocpi_peer, cdrs_url=url)
    final_cdr()
    deliveries_run(connection_id=connection.pk)
    delivery = OutboundDelivery.objects.get()
    assert "user info" in delivery.last_error
    assert_clean(delivery.last_error)
    assert ocpi_peer.requests == []
    assert_clean(ExchangeLogEntry.objects.get().error)


def test_a_sync_cursor_keeps_its_error_without_credentials(
    ocpi_peer: OcpiPeer, caplog: pytest.LogCaptureFixture
) -> None:
    connection = hub_connection(ocpi_peer)
    ocpi_peer.reply(envelope(status_code=3000, status_message=LEAKY), status=500)
    sync_run(connection_id=connection.pk, module=MODULE)
    cursor = SyncCursor.objects.get(connection=connection, module=MODULE)
    assert "upstream" in cursor.last_error
    assert_clean(cursor.last_error)
    assert_clean(caplog.text)  # the worker's log line too


def test_a_job_failure_is_recorded_without_credentials() -> None:
    try:
        raise OcpiTransportError("connection", LEAKY, url="https://svc:hunter2@h/x")
    except OcpiTransportError as exc:
        job_failure_record(
            task="roamdesk.ocpi.deliver",
            arguments="(1,) {'token': 'tok-A-123'}",
            error=f"{exc}",
            traceback=f"Traceback ...\nOcpiTransportError: {exc}",
        )
    failure = JobFailure.objects.get()
    for text in (failure.arguments, failure.error, failure.traceback):
        assert_clean(text)
