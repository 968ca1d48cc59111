"""One typed settings object, read from `RTK_*` environment variables.

Every field has a default that works on a laptop; `docs/configuration.md` lists them all
(a test keeps the two in step).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def parse_duration(name: str, text: str) -> float:
    """Seconds from `90`, `90s`, `15m`, `6h` or `7d`, so operators need not do arithmetic."""
    match = _DURATION.match(text)
    if not match:
        raise SettingsError(f"{name}={text!r}: use seconds or a number with s, m, h or d")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _setting(env: str, default: Any, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting(
        "RTK_DATA_DIR", Path("data"), "Directory for the SQLite database and local files."
    )
    database_url: str = _setting(
        "RTK_DATABASE_URL",
        "",
        "SQLAlchemy URL; empty means SQLite (WAL) at DATA_DIR/rtk.db. "
        "PostgreSQL: postgresql+asyncpg://user@host:5432/db.",
    )
    host: str = _setting("RTK_HOST", "127.0.0.1", "Address `serve` listens on.")
    port: int = _setting("RTK_PORT", 8787, "Port `serve` listens on.")
    public_url: str = _setting(
        "RTK_PUBLIC_URL", "", "Base URL for links the API hands out; empty = the request's."
    )
    session_end_grace: float = _setting(
        "RTK_SESSION_END_GRACE",
        0.0,
        "Peers' intervals separated by at most this gap still form one session (seconds).",
    )
    session_idle_timeout: float = _setting(
        "RTK_SESSION_IDLE_TIMEOUT",
        6 * 3600.0,
        "A LIVE session that received no event for this long is closed by the sweep.",
    )
    sweep_interval: float = _setting(
        "RTK_SWEEP_INTERVAL", 60.0, "How often the idle sweep runs inside `serve` (seconds)."
    )
    pending_max_age: float = _setting(
        "RTK_PENDING_MAX_AGE",
        7 * 86400.0,
        "Events pending longer than this are reported as orphaned (they stay stored).",
    )
    log_level: str = _setting("RTK_LOG_LEVEL", "info", "Log level of `serve`.")

    @property
    def session_end_grace_ms(self) -> int:
        return int(self.session_end_grace * 1000)

    @property
    def session_idle_timeout_ms(self) -> int:
        return int(self.session_idle_timeout * 1000)

    @property
    def pending_max_age_ms(self) -> int:
        return int(self.pending_max_age * 1000)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'rtk.db').resolve()}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build from the environment; explicit overrides (CLI flags) win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.metadata["env"], f.default, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _convert(name: str, default: Any, raw: str) -> Any:
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, bool):
        return raw.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"{name}={raw!r}: expected a whole number") from exc
    if isinstance(default, float):
        return parse_duration(name, raw)
    return raw


def settings_reference() -> list[tuple[str, str, str]]:
    """(variable, default, help) for every setting, for docs and `--help` text."""
    return [(f.metadata["env"], str(f.default), f.metadata["help"]) for f in fields(Settings)]
