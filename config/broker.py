"""The embedded broker: kombu's filesystem transport in a folder, as the settings and the tests'
workers configure it (one definition for both)."""

from __future__ import annotations

from pathlib import Path

SUBFOLDERS = ("queue", "processed", "results", "control")


def filesystem_transport_options(folder: Path) -> dict[str, object]:
    """Transport options of a filesystem broker in ``folder`` (its subfolders are created)."""
    for sub in SUBFOLDERS:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        # How often an idle worker looks at the folder (kombu's default is 1 s).
        "polling_interval": 0.2,
    }
