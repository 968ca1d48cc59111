"""The job queue: huey on a SQLite file by default, on Redis for workers on several machines.

Jobs carry ids only and are safe to run twice. The queue is the delivery mechanism, not the
record: whoever asks for work first writes its intent in the database, and a reconciler
enqueues any intent without a live job, so work survives a lost queue (Redis keeps nothing on
disk here) and a crash between commit and enqueue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from rtk_sessions.kit.private import private_file

log = logging.getLogger("rtk_sessions.jobs")


class _QuietConsumer(Consumer):  # type: ignore[misc]
    """A consumer that runs inside another program: it leaves signal handling to its host."""

    def _set_signal_handlers(self) -> None:
        pass


def make_huey(jobs_url: str, data_dir: Path, name: str) -> Huey:
    """SQLite file in the data dir when `jobs_url` is empty; `redis://...` otherwise."""
    if not jobs_url:
        path = private_file(data_dir / "jobs.db")
        return SqliteHuey(name, filename=str(path), results=False)
    if jobs_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=jobs_url, results=False)
    raise ValueError(f"RTK_JOBS_URL={jobs_url!r}: use empty (SQLite) or redis://host:port/db")


class JobQueue:
    """Named jobs on one huey instance, and the worker threads that run them."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._tasks: dict[str, Any] = {}
        self._consumer: _QuietConsumer | None = None

    def register(self, name: str, fn: Callable[..., None]) -> None:
        self._tasks[name] = self.huey.task(name=name)(fn)

    def enqueue(self, name: str, *args: Any) -> None:
        self._tasks[name](*args)

    def pending(self) -> int:
        """Jobs waiting in the queue; raises when the queue's storage does not answer."""
        return int(self.huey.pending_count())

    def start(self, workers: int) -> None:
        if workers <= 0:
            return
        self._consumer = _QuietConsumer(
            self.huey,
            workers=workers,
            periodic=False,
            max_delay=1.0,
            check_worker_health=False,
            shutdown_timeout=10.0,
        )
        self._consumer.start()
        log.info("job workers started: %d threads", workers)

    @property
    def running(self) -> bool:
        if self._consumer is None:
            return False
        return all(t.is_alive() for _, t in self._consumer.worker_threads)

    def stop(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None
