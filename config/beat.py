"""A beat scheduler of which only one instance is effective, however many run.

Every beat keeps its schedule, but only the holder of a lock sends tasks; the others stand by
and take over when the holder stops refreshing the lock (it died). With Redis the lock is a key
with an expiry (``SET NX PX``, refreshed by its owner only); without Redis (one machine, the
embedded defaults) it is an ``flock`` on a file under ``var/``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import uuid
from typing import IO, Any

from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger(__name__)

LOCK_KEY = "roamdesk:beat:leader"
_REFRESH = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end"
)


class _RedisLock:
    def __init__(self, url: str, ttl: float) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.ttl_ms = int(ttl * 1000)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._refresh = self.client.register_script(_REFRESH)
        self._release = self.client.register_script(_RELEASE)

    def held(self) -> bool:
        if self.client.set(LOCK_KEY, self.owner, nx=True, px=self.ttl_ms):
            return True
        return bool(self._refresh(keys=[LOCK_KEY], args=[self.owner, self.ttl_ms]))

    def release(self) -> None:
        self._release(keys=[LOCK_KEY], args=[self.owner])


class _FileLock:
    def __init__(self, path: str) -> None:
        self.path = path
        self.handle: IO[str] | None = None

    def held(self) -> bool:
        if self.handle is not None:
            return True
        handle = open(self.path, "a")  # noqa: SIM115 (held open as long as the process lives)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.handle = handle
        return True

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing the file drops the flock
            self.handle = None


class LockedScheduler(PersistentScheduler):
    """PersistentScheduler that sends due tasks only while it holds the beat lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if settings.REDIS_URL:
            self.lock: _RedisLock | _FileLock = _RedisLock(
                settings.REDIS_URL, settings.CELERY_BEAT_LOCK_TTL
            )
        else:
            self.lock = _FileLock(str(settings.VAR_DIR / "celerybeat.lock"))
        self.leading: bool | None = None

    def apply_entry(self, entry: Any, producer: Any = None) -> None:
        try:
            leading = self.lock.held()
        except Exception:  # the lock store is down: better no beat than two
            logger.exception("beat lock unavailable; not sending %s", entry.name)
            leading = False
        if leading != self.leading:
            logger.warning("beat %s", "leads: sending tasks" if leading else "stands by")
            self.leading = leading
        if leading:
            super().apply_entry(entry, producer=producer)

    def close(self) -> None:
        """On a clean stop, hand the lead over at once instead of after the lock's TTL."""
        try:
            self.lock.release()
        except Exception:  # the lock expires by itself anyway
            logger.exception("could not release the beat lock")
        super().close()
