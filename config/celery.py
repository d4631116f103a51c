"""The Celery application: JSON only, late acks, prefetch 1, time limits (see settings)."""

from __future__ import annotations

import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("roamdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The beat schedule lives in code. Modules add their periodic tasks here as they land.
app.conf.beat_schedule = {
    "ocpi-sweep-deliveries": {
        "task": "roamdesk.ocpi.sweep_deliveries",
        "schedule": timedelta(seconds=settings.OCPI_DELIVERY_SWEEP_SECONDS),
    },
    "ocpi-sync-due": {
        "task": "roamdesk.ocpi.sync_due",
        "schedule": timedelta(seconds=settings.OCPI_SYNC_CHECK_SECONDS),
    },
    "ocpi-charging-profile-sweep": {
        "task": "roamdesk.ocpi.charging_profile_sweep",
        "schedule": timedelta(seconds=settings.CHARGING_PROFILE_SWEEP_SECONDS),
    },
    "commands-sweep": {
        "task": "roamdesk.commands.sweep",
        "schedule": timedelta(seconds=settings.COMMANDS_SWEEP_SECONDS),
    },
    "commands-simulator-meter": {
        "task": "roamdesk.commands.simulator_meter",
        "schedule": timedelta(seconds=settings.COMMANDS_SIMULATOR_METER_SECONDS),
    },
    "core-prune-var": {
        "task": "roamdesk.core.prune_var",
        "schedule": timedelta(minutes=10),
    },
    "demo-keep-charging": {
        "task": "roamdesk.demo.keep_charging",
        "schedule": timedelta(seconds=settings.COMMANDS_SIMULATOR_METER_SECONDS),
    },
    "ocpi-prune-exchange-log": {
        "task": "roamdesk.ocpi.prune_exchange_log",
        "schedule": crontab(hour=3, minute=17),
    },
}
