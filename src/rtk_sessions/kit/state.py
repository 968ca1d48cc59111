"""What the app holds for the lifetime of the process."""

from __future__ import annotations

from dataclasses import dataclass, field

from rtk_sessions.config import Settings
from rtk_sessions.kit.db import Database


@dataclass
class AppState:
    settings: Settings
    db: Database
    background_ok: dict[str, bool] = field(default_factory=dict)
