from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from config.celery import app as celery_app


@pytest.fixture
def broken_broker() -> Iterator[None]:
    """Point the broker at a closed port (a real refused connection, not a mock)."""
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        yield
    finally:
        celery_app.conf.broker_url = original


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["vendor"] == connection.vendor
    broker = body["checks"]["broker"]
    assert broker["ok"] is True
    assert broker["transport"] == ("redis" if settings.REDIS_URL else "filesystem")


@pytest.mark.django_db
@pytest.mark.usefixtures("broken_broker")
def test_healthz_is_503_when_the_broker_is_down(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["ok"] is True


@pytest.fixture
def broken_database() -> Iterator[None]:
    """Point the default connection at a database that cannot be opened (a real failure)."""
    original = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-roamdesk-dir/db.sqlite3"
    else:
        connection.settings_dict["PORT"] = "1"  # closed: connection refused
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)


@pytest.mark.django_db(transaction=True)
def test_healthz_names_a_broken_database_without_its_error_text(
    client: Client, caplog: pytest.LogCaptureFixture, broken_database: None
) -> None:
    with caplog.at_level("WARNING", logger="apps.core.views"):
        response = client.get("/healthz")
    assert response.status_code == 503
    database = response.json()["checks"]["database"]
    assert database["ok"] is False
    assert database["error"] == "database unavailable"
    text = response.content.decode()
    for leak in ("OperationalError", "nonexistent-roamdesk-dir", "unable to open", "port 1"):
        assert leak not in text
    # Operators find the driver's reason in the log.
    logged = [r for r in caplog.records if r.name == "apps.core.views" and r.exc_info]
    assert logged
    assert "database" in logged[0].getMessage()


@pytest.mark.django_db
@pytest.mark.usefixtures("broken_broker")
def test_healthz_does_not_show_the_broker_address() -> None:
    body = Client().get("/healthz").json()
    assert body["checks"]["broker"]["error"] == "broker unavailable"
    assert "127.0.0.1" not in str(body)
