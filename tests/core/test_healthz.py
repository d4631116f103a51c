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
