"""What the app holds for the lifetime of the process."""

from __future__ import annotations

from dataclasses import dataclass, field

from rtk_sessions.config import Settings
from rtk_sessions.kit.blobs import BlobStore
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.jobs import JobQueue
from rtk_sessions.kit.ratelimit import RateLimits


@dataclass
class AppState:
    settings: Settings
    db: Database
    blobs: BlobStore
    jobs: JobQueue
    limits: RateLimits
    background_ok: dict[str, bool] = field(default_factory=dict)
