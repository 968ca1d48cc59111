"""Assembling a process: database, blob store and job queue with every job registered."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

from rtk_sessions.config import Settings
from rtk_sessions.kit.blobs import blob_store_from_settings
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.jobs import JobQueue, make_huey
from rtk_sessions.kit.ratelimit import RateLimits
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import set_clock_offset
from rtk_sessions.quality import service as quality
from rtk_sessions.sessions.derivation import AppRef
from rtk_sessions.summaries import service as summaries


def build_state(settings: Settings) -> AppState:
    """Everything a server, worker or CLI command needs; no threads are started here."""
    set_clock_offset(settings.test_clock_offset)
    state = AppState(
        settings=settings,
        db=Database(settings.effective_database_url),
        blobs=blob_store_from_settings(settings),
        jobs=JobQueue(
            make_huey(settings.jobs_url, settings.data_dir, settings.effective_jobs_queue)
        ),
        limits=RateLimits(settings),
    )

    async def summary(own: AppState, app_pk: int, app_id: str, session_id: str) -> None:
        await summaries.run_summary(own, AppRef(app_pk, app_id), session_id)

    state.jobs.register(summaries.JOB, _in_worker(state, summary))
    state.jobs.register(quality.JOB, _in_worker(state, quality.run_reports))
    return state


def _in_worker(
    state: AppState, job: Callable[..., Coroutine[Any, Any, None]]
) -> Callable[..., None]:
    """A job as huey runs it: in a worker thread, with its own event loop and connections."""

    def run(*args: Any) -> None:
        async def main() -> None:
            own = dataclasses.replace(state, db=Database(state.settings.effective_database_url))
            try:
                await job(own, *args)
            finally:
                await own.db.dispose()

        asyncio.run(main())

    return run
