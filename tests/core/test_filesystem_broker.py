"""The embedded broker's messages appear whole, and a reader never stops on a bad file.

kombu's own filesystem transport creates a message file and writes it afterwards; a worker that
polls in between reads an empty file and stops with "Unrecoverable error: JSONDecodeError" (the
portal's realtime worker did, 30 minutes into a run with beat sending every 5 s).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from kombu import Connection
from kombu.transport import filesystem

from config.broker import TRANSPORT, filesystem_transport_options

WRITERS = 4
PER_WRITER = 400


def _connection(folder: Path, transport: str | type = TRANSPORT) -> Connection:
    return Connection(
        "filesystem://",
        transport=transport,
        transport_options=filesystem_transport_options(folder),
    )


def _drain_while_writing(folder: Path, transport: str | type) -> tuple[list[int], list[str]]:
    """Writers put numbered messages while a reader takes them; returns what was read and the
    reader's errors."""
    done = threading.Event()
    got: list[int] = []
    errors: list[str] = []

    def write(offset: int) -> None:
        with _connection(folder, transport) as conn:
            channel = conn.default_channel
            for n in range(PER_WRITER):
                channel._put("q", {"n": offset + n, "pad": "x" * 2000})

    def read() -> None:
        with _connection(folder, transport) as conn:
            channel = conn.default_channel
            while not done.is_set() or len(got) < WRITERS * PER_WRITER:
                try:
                    got.append(channel._get("q")["n"])
                except filesystem.Empty:
                    if done.is_set() and not list((folder / "queue").glob("*.q.msg")):
                        return
                except Exception as exc:  # what stops a worker
                    errors.append(f"{type(exc).__name__}: {exc}")
                    if len(errors) > 20:
                        return

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(i * PER_WRITER,)) for i in range(WRITERS)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    reader.join(timeout=60)
    return got, errors


def test_messages_written_while_a_reader_polls_arrive_whole_and_once(tmp_path: Path) -> None:
    got, errors = _drain_while_writing(tmp_path, TRANSPORT)
    assert errors == []
    assert sorted(got) == list(range(WRITERS * PER_WRITER))


def test_a_reader_sets_aside_an_empty_or_broken_file_and_goes_on(tmp_path: Path) -> None:
    with _connection(tmp_path) as conn:
        channel = conn.default_channel
        queue = tmp_path / "queue"
        (queue / "1_aaaa.q.msg").write_bytes(b"")  # a writer without the fix, mid-write
        (queue / "2_bbbb.q.msg").write_bytes(b'{"torn')
        channel._put("q", {"n": 1})
        assert channel._get("q") == {"n": 1}
        with pytest.raises(filesystem.Empty):
            channel._get("q")
    assert sorted(p.name for p in (tmp_path / "bad").iterdir()) == ["1_aaaa.q.msg", "2_bbbb.q.msg"]
    assert list(queue.iterdir()) == []


def test_filesystem_urls_name_this_transport() -> None:
    """The settings, the web server, the workers and beat all say ``filesystem://``."""
    from kombu.transport import resolve_transport

    from config.broker import FilesystemTransport

    assert resolve_transport("filesystem") is FilesystemTransport
    assert Connection("filesystem://").transport_cls == "filesystem"
