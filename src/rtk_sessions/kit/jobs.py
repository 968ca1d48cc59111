"""The job queue: huey on a SQLite file by default, on Redis for workers on several machines.

Jobs carry ids only and are safe to run twice. The queue is the delivery mechanism, not the
record: whoever asks for work first writes its intent in the database, and a reconciler
enqueues any intent without a live job, so work survives a lost queue (Redis keeps nothing on
disk here) and a crash between commit and enqueue.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import Task
from huey.consumer import Consumer

from rtk_sessions.kit import metrics
from rtk_sessions.kit.private import private_file

log = logging.getLogger("rtk_sessions.jobs")

# How long a running job may take to finish once its process is asked to stop; one still
# running then is put back in the queue (docs/jobs.md, Stopping). Well inside the 10 s that
# process managers give before SIGKILL, with time left for the HTTP side of `serve`.
STOP_GRACE = 4.0

# Worker threads left running a released job: the process ends without waiting for them.
_left_running: list[threading.Thread] = []


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
        self._running: dict[int, Task] = {}  # by worker thread
        self._lock = threading.Lock()

    def register(self, name: str, fn: Callable[..., None]) -> None:
        counted = metrics.counted_job(name, fn)

        @functools.wraps(fn)  # keeps the task's name in the queue what it was
        def tracked(*args: Any, task: Task) -> None:
            me = threading.get_ident()
            with self._lock:
                self._running[me] = task
            try:
                counted(*args)
            finally:
                with self._lock:
                    self._running.pop(me, None)

        self._tasks[name] = self.huey.task(name=name, context=True)(tracked)

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

    def stop(self, grace: float = STOP_GRACE) -> int:
        """Take no more jobs; give running ones `grace` seconds, then put each one still
        running back in the queue for another worker. Returns how many were put back."""
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return 0
        consumer.shutdown_timeout = grace
        consumer.stop(graceful=True)
        with self._lock:
            unfinished = list(self._running.values())
            self._running.clear()
        for task in unfinished:
            try:
                self.huey.enqueue(task)
                log.warning("job %s did not finish in %.0f s: put back in the queue", task, grace)
            except Exception:
                log.exception("could not put job %s back; the reconciler will", task)
        _left_running.extend(t for _, t in consumer.worker_threads if t.is_alive())
        return len(unfinished)


def exit_now_if_jobs_linger(code: int = 0) -> None:
    """End the process without waiting for threads of jobs that `stop` put back in the queue
    (blocked in an LLM call, say): their work is safe, and waiting could take minutes."""
    if any(t.is_alive() for t in _left_running):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
