"""Celery tasks of remote commands (explicit dotted names; arguments are ids)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="roamdesk.commands.execute")
def execute_command(command_id: int) -> bool:
    """Hand an accepted command to the charge-point backend."""
    from apps.commands.services import command_execute

    return command_execute(command_id=command_id)


@shared_task(name="roamdesk.commands.sweep")
def sweep_commands() -> dict[str, list[int]]:
    """Periodic: TIMEOUT for commands past their deadline; re-enqueue lost executions."""
    from apps.commands.services import commands_expire, commands_unexecuted

    expired = commands_expire()
    lost = commands_unexecuted()
    for command_id in lost:
        execute_command.delay(command_id)
    return {"expired": expired, "requeued": lost}


@shared_task(name="roamdesk.commands.simulator_meter")
def simulator_meter() -> int:
    """Periodic: simulated meter values for the sessions the simulator is charging."""
    from apps.commands.simulator import simulator_meter_all

    return simulator_meter_all()
