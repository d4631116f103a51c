"""Celery tasks of the demo (explicit dotted names)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="roamdesk.demo.keep_charging", ignore_result=True)
def keep_charging() -> int:
    """Periodic: the simulator keeps a few live demo sessions running (apps.demo.live)."""
    from apps.demo.live import demo_keep_charging

    report = demo_keep_charging()
    return report.started + report.metered + report.stopped
