"""The Celery application: JSON only, late acks, prefetch 1, time limits (see settings)."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("roamdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The beat schedule lives in code. Modules add their periodic tasks here as they land.
app.conf.beat_schedule = {
    "ocpi-prune-exchange-log": {
        "task": "roamdesk.ocpi.prune_exchange_log",
        "schedule": crontab(hour=3, minute=17),
    },
}
