"""Assembling a process: database, blob store and job queue with every resource's jobs
registered (each resource declares its own in its `jobs.py`)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from rtk_sessions.config import Settings
from rtk_sessions.integrations import jobs as integrations
from rtk_sessions.kit import cpu, metrics
from rtk_sessions.kit.state import AppState, new_state, worker_state
from rtk_sessions.quality import jobs as quality
from rtk_sessions.summaries import jobs as summaries
from rtk_sessions.upkeep.exports import export_for_webhook
from rtk_sessions.webhooks import jobs as webhooks

# A job answers False when it failed and recorded the failure itself instead of raising.
Job = Callable[..., Coroutine[Any, Any, bool | None]]

JOBS: dict[str, Job] = {
    **summaries.JOBS,
    **quality.JOBS,
    **integrations.JOBS,
    webhooks.JOB: functools.partial(webhooks.deliver, export=export_for_webhook),
}
# The queue knows a task as "<module of its function>.<name>"; the jobs were assembled in
# `rtk_sessions.runtime` before this module, and keep that name so that tasks already queued
# by an earlier version still find their function.
_QUEUE_MODULE = "rtk_sessions.runtime"
# Where the functions that run in worker processes live (kit/cpu.py preloads them).
WORK = (
    "rtk_sessions.upkeep.jobs",
    "rtk_sessions.ingest.validation",
    "rtk_sessions.ingest.rtcstats_import",
    "rtk_sessions.integrations.livekit",
)


def build_state(settings: Settings) -> AppState:
    """Everything a server, worker or CLI command needs; no threads are started here."""
    cpu.configure(requests=settings.cpu_workers, jobs=settings.job_workers, preload=WORK)
    state = new_state(settings)
    for name in JOBS:
        state.jobs.register(name, _in_worker_process(settings, name))
    return state


def _in_worker_process(settings: Settings, name: str) -> Callable[..., None]:
    """A job as huey runs it: its worker thread waits, without holding the GIL, while a
    process of the jobs pool does the work, so a long summary never slows the API
    (docs/adr/0004-cpu-work-off-the-event-loop.md)."""

    def run(*args: Any) -> None:
        if cpu.call(cpu.JOBS, run_job, settings, name, args) is False:
            metrics.job_failed(name)  # counted here: the worker process may keep no metrics

    run.__module__ = _QUEUE_MODULE
    return run


def run_job(settings: Settings, name: str, args: tuple[Any, ...]) -> bool | None:
    """In a worker process: run the job with this process's state and its own connections."""

    async def main() -> bool | None:
        own = worker_state(settings)
        try:
            return await JOBS[name](own, *args)
        finally:
            await own.db.dispose()

    return asyncio.run(main())
