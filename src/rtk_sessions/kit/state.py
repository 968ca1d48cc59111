"""What the app holds for the lifetime of the process."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

from rtk_sessions.config import Settings
from rtk_sessions.kit.blobs import BlobStore, blob_store_from_settings
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.jobs import JobQueue, make_huey
from rtk_sessions.kit.ratelimit import RateLimits
from rtk_sessions.kit.timeutil import set_clock_offset


@dataclass
class AppState:
    settings: Settings
    db: Database
    blobs: BlobStore
    jobs: JobQueue
    limits: RateLimits
    background_ok: dict[str, bool] = field(default_factory=dict)


def new_state(settings: Settings) -> AppState:
    """Database, blob store, job queue (no job registered) and rate limits; no threads are
    started. Sets this process's clock (RTK_TEST_CLOCK_OFFSET, tests only)."""
    set_clock_offset(settings.test_clock_offset)
    return AppState(
        settings=settings,
        db=Database(settings.effective_database_url),
        blobs=blob_store_from_settings(settings),
        jobs=JobQueue(
            make_huey(settings.jobs_url, settings.data_dir, settings.effective_jobs_queue)
        ),
        limits=RateLimits(settings),
    )


def worker_state(settings: Settings) -> AppState:
    """The state for one piece of work in a worker process (kit/cpu.py): shared blob store and
    queue, and a database of its own, for the event loop of this piece of work only."""
    return dataclasses.replace(
        _process_state(settings), db=Database(settings.effective_database_url)
    )


@functools.cache
def _process_state(settings: Settings) -> AppState:
    return new_state(settings)
