"""What the app holds for the lifetime of the process."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

from rtk_sessions.config import Settings
from rtk_sessions.kit.blobs import BlobStore, blob_store_from_settings
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.jobs import JobQueue, make_huey


@dataclass
class AppState:
    settings: Settings
    db: Database
    blobs: BlobStore
    jobs: JobQueue
    background_ok: dict[str, bool] = field(default_factory=dict)


def new_state(settings: Settings) -> AppState:
    """Database, blob store and job queue (no job registered); no threads are started."""
    return AppState(
        settings=settings,
        db=Database(settings.effective_database_url),
        blobs=blob_store_from_settings(settings),
        jobs=JobQueue(
            make_huey(settings.jobs_url, settings.data_dir, settings.effective_jobs_queue)
        ),
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
