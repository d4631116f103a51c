"""The exchange log service (recording, redaction, pruning), its task and its admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.ocpi.models import Direction, ExchangeLogEntry
from apps.ocpi.services import exchange_log
from apps.ocpi.services.exchange_log import (
    MAX_TEXT_BODY_BYTES,
    body_for_log,
    exchange_log_prune,
    exchange_log_record,
)
from apps.ocpi.tasks import prune_exchange_log
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def record(**overrides: object) -> ExchangeLogEntry:
    values: dict[str, object] = {
        "direction": Direction.INBOUND,
        "connection": None,
        "method": "post",
        "url": "https://us.example/ocpi/2.2.1/credentials",
    }
    values.update(overrides)
    return exchange_log_record(**values)  # type: ignore[arg-type]


# -- recording -----------------------------------------------------------------------------------
def test_sizes_are_recorded_bodies_are_not_without_the_switch() -> None:
    entry = record(
        connection=ConnectionFactory.create(),
        request_body=b'{"token":"abc"}',
        response_body=b"x" * 10,
        http_status=200,
        ocpi_status=1000,
        duration_ms=12,
        request_id="r",
        correlation_id="c",
        module="credentials",
    )
    entry.refresh_from_db()
    assert (entry.request_size, entry.response_size) == (15, 10)
    assert (entry.request_body, entry.response_body) == ("", "")
    assert entry.method == "POST"
    assert (entry.http_status, entry.ocpi_status, entry.duration_ms) == (200, 1000, 12)
    assert entry.succeeded


def test_bodies_are_not_kept_without_a_connection() -> None:
    entry = record(request_body=b'{"a":1}')
    assert entry.request_body == ""
    assert entry.request_size == 7


def test_token_values_are_redacted_at_any_depth() -> None:
    connection = ConnectionFactory.create(log_bodies=True)
    body = (
        b'{"token":"A","url":"https://p","nested":{"Token":"B","list":[{"token":"C"},'
        b'{"tokens":["keep"]}]},"command":{"token":{"uid":"D"}},"price":0.30}'
    )
    entry = record(connection=connection, request_body=body, response_body=b'[{"token":42}]')
    assert entry.request_body == (
        '{"token":"[redacted]","url":"https://p","nested":{"Token":"[redacted]","list":'
        '[{"token":"[redacted]"},{"tokens":["keep"]}]},"command":{"token":"[redacted]"},'
        '"price":0.30}'
    )
    assert entry.response_body == '[{"token":"[redacted]"}]'


def test_non_json_bodies_are_truncated_and_storable() -> None:
    connection = ConnectionFactory.create(log_bodies=True)
    html = b"<html>" + b"a" * (MAX_TEXT_BODY_BYTES + 100) + b"</html>"
    entry = record(connection=connection, response_body=html, request_body=b"bin\x00ary\xff")
    entry.refresh_from_db()
    assert entry.response_size == len(html)
    assert entry.response_body.startswith("<html>aaa")
    assert len(entry.response_body) < MAX_TEXT_BODY_BYTES + 100
    assert "truncated" in entry.response_body
    assert "</html>" not in entry.response_body
    assert entry.request_body == "bin\ufffdary\ufffd"  # NUL and invalid UTF-8 replaced


def test_broken_json_still_has_its_tokens_redacted() -> None:
    assert body_for_log(b'{"token": "secret-1", "url": "x",') == (
        '{"token": "[redacted]", "url": "x",'
    )
    assert "secret" not in body_for_log(b'{"url":"x","TOKEN":"secret-cut-off')
    assert "secret" not in body_for_log(b"{'token': 1, \"token\":secret}")


def test_values_that_do_not_fit_are_clipped() -> None:
    entry = record(
        url="https://p.example/" + "x" * 2000,
        request_id="r" * 100,
        correlation_id="c" * 100,
        module="m" * 50,
        ocpi_status=99999,
        http_status=-1,
        duration_ms=-5,
        error="bad\x00byte",
    )
    entry.refresh_from_db()
    assert len(entry.url) == 1000
    assert (len(entry.request_id), len(entry.correlation_id), len(entry.module)) == (64, 64, 32)
    assert entry.ocpi_status is None
    assert entry.http_status is None
    assert entry.duration_ms == 0
    assert entry.error == "bad\ufffdbyte"


# -- pruning -------------------------------------------------------------------------------------
def aged(days: float) -> ExchangeLogEntry:
    entry = record()
    ExchangeLogEntry.objects.filter(pk=entry.pk).update(
        created_at=timezone.now() - timedelta(days=days)
    )
    return entry


def test_prune_deletes_only_rows_past_the_retention(settings: object) -> None:
    settings.OCPI_EXCHANGE_LOG_RETENTION_DAYS = 30  # type: ignore[attr-defined]
    old = [aged(400), aged(31), aged(30.01)]
    young = [aged(29.9), aged(0.5), aged(0)]
    assert exchange_log_prune() == len(old)
    assert set(ExchangeLogEntry.objects.values_list("pk", flat=True)) == {e.pk for e in young}
    assert exchange_log_prune() == 0
    assert exchange_log_prune(older_than_days=1) == 1
    with pytest.raises(ValueError, match="negative"):
        exchange_log_prune(older_than_days=-1)


def test_prune_works_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exchange_log, "PRUNE_BATCH_SIZE", 2)
    for _ in range(5):
        aged(100)
    keep = aged(2)
    assert exchange_log_prune(older_than_days=10) == 5
    assert list(ExchangeLogEntry.objects.values_list("pk", flat=True)) == [keep.pk]


def test_prune_task_and_its_schedule() -> None:
    from config.celery import app

    aged(365)
    aged(0)
    assert prune_exchange_log.apply().get() == 1
    assert prune_exchange_log.apply(kwargs={"older_than_days": 0}).get() == 1
    assert ExchangeLogEntry.objects.count() == 0
    scheduled = [entry["task"] for entry in app.conf.beat_schedule.values()]
    assert "roamdesk.ocpi.prune_exchange_log" in scheduled
    assert prune_exchange_log.name == "roamdesk.ocpi.prune_exchange_log"


# -- admin ---------------------------------------------------------------------------------------
def test_admin_list_filters_and_change_page(staff_client: Client) -> None:
    connection = ConnectionFactory.create(log_bodies=True)
    ok = record(
        connection=connection,
        direction=Direction.OUTBOUND,
        url="https://partner.example/ocpi/cpo/locations?" + "offset=0&" * 20,
        module="locations",
        http_status=200,
        ocpi_status=1000,
        request_id="req-ok",
        correlation_id="corr-1",
        response_body=b'{"data":[{"name":"<script>alert(1)</script>","p":0.1}],"status_code":1000}',
    )
    failed = record(
        connection=connection,
        http_status=500,
        request_id="req-failed",
        response_body=b"<b>Internal error</b>",
        error="HTTP 500",
    )
    changelist = reverse("admin:ocpi_exchangelogentry_changelist")

    response = staff_client.get(changelist)
    assert response.status_code == 200
    content = response.content.decode()
    assert "req-ok" in content
    assert "req-failed" in content
    assert "…" in content  # the long URL is shortened

    for query, shown, hidden in [
        ({"http_class": "2xx"}, "req-ok", "req-failed"),
        ({"http_class": "5xx"}, "req-failed", "req-ok"),
        ({"ocpi_class": "success"}, "req-ok", "req-failed"),
        ({"ocpi_class": "none"}, "req-failed", "req-ok"),
        ({"direction__exact": "OUT"}, "req-ok", "req-failed"),
        ({"module": "locations"}, "req-ok", "req-failed"),
        ({"q": "corr-1"}, "req-ok", "req-failed"),
        ({"q": "req-failed"}, "req-failed", "req-ok"),
    ]:
        content = staff_client.get(changelist, query).content.decode()
        assert shown in content, query
        assert hidden not in content, query
    assert staff_client.get(changelist, {"connection__id__exact": connection.pk}).status_code == 200
    assert staff_client.get(changelist, {"ocpi_class": "client"}).status_code == 200

    page = staff_client.get(reverse("admin:ocpi_exchangelogentry_change", args=[ok.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<pre class="roamdesk-json">' in html
    assert "\n      &quot;p&quot;: 0.1\n" in html  # indented, number kept as written
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert 'name="url"' not in html  # read-only: no inputs
    page = staff_client.get(reverse("admin:ocpi_exchangelogentry_change", args=[failed.pk]))
    assert "&lt;b&gt;Internal error&lt;/b&gt;" in page.content.decode()

    assert staff_client.get(reverse("admin:ocpi_exchangelogentry_add")).status_code == 403
    delete = reverse("admin:ocpi_exchangelogentry_delete", args=[ok.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403


def test_titles_say_what_the_answer_was_never_none() -> None:
    connection = ConnectionFactory.create()
    unanswered = record(connection=connection, http_status=None, ocpi_status=None)
    plain = record(connection=connection, http_status=502, ocpi_status=None)
    answered = record(connection=connection, http_status=200, ocpi_status=2001)
    assert str(unanswered).endswith(" → no answer")
    assert str(plain).endswith(" → HTTP 502")
    assert str(answered).endswith(" → HTTP 200, OCPI 2001")
    assert all("None" not in str(e) for e in (unanswered, plain, answered))


def test_change_page_title_of_a_call_without_answer(staff_client: Client) -> None:
    entry = record(connection=ConnectionFactory.create(), http_status=None, error="timed out")
    page = staff_client.get(reverse("admin:ocpi_exchangelogentry_change", args=[entry.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert "→ no answer" in content
    assert "None/None" not in content
