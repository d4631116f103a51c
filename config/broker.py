"""The embedded broker: kombu's filesystem transport in a folder, as the settings and the tests'
workers configure it (one definition for both)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

SUBFOLDERS = ("queue", "processed", "results", "control", "bad")


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


# -- a filesystem transport whose messages appear whole --------------------------------------------


class FilesystemChannel(filesystem.Channel):
    """kombu's filesystem channel, safe for several processes writing and reading at once.

    kombu creates a message file under its final name and writes it afterwards: a worker polling
    the folder in between takes the empty file, fails to decode it and stops with
    "Unrecoverable error: JSONDecodeError" (seen with the portal's two workers and beat). Here
    a message is written under a name no reader matches and renamed into place when complete
    (``os.replace`` is atomic), and a reader that still meets an empty or undecodable file (a
    message of a writer without this fix, a torn disk write) sets it aside in ``bad/`` and goes
    on instead of stopping the worker.
    """

    # kombu's own filesystem channel names the argument ``payload`` where its base says ``message``.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"_{name}.part")
        try:
            with open(partial, "wb", buffering=0) as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            source = os.path.join(self.data_folder_in, name)
            taken = os.path.join(self.processed_folder, name) if self.store_processed else None
            try:
                if taken is None:
                    # Claim it by renaming it out of the queue (atomic: one reader wins).
                    taken = f"{source}.taken-{uuid.uuid4().hex}"
                os.replace(source, taken)
            except OSError:  # another reader was first
                continue
            try:
                with open(taken, "rb") as f:
                    raw = f.read()
                message = loads(bytes_to_str(raw))
            except (OSError, ValueError, json.JSONDecodeError):
                self._set_aside(taken, name)
                continue
            if not self.store_processed:
                with contextlib.suppress(OSError):
                    os.remove(taken)
            return message
        raise filesystem.Empty()

    def _set_aside(self, path: str, name: str) -> None:
        bad = os.path.join(os.path.dirname(self.data_folder_in.rstrip("/")), "bad")
        os.makedirs(bad, exist_ok=True)
        logger.error("set aside an unreadable queue message %s (in %s)", name, bad)
        with contextlib.suppress(OSError):
            os.replace(path, os.path.join(bad, name))


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel


#: Where the transport is found; ``filesystem://`` names it in every process that loads the
#: settings (they import this module): kombu's alias table is its documented extension point.
TRANSPORT = "config.broker:FilesystemTransport"
TRANSPORT_ALIASES["filesystem"] = TRANSPORT
