"""Reading the per-sample entries of a peer report's `quality` lists (docs/quality.md), for
what shows them to people: the verdict and the dashboard's charts."""

from __future__ import annotations

import math
from typing import Any

from rtk_sessions.kit.timeutil import rfc3339_ms


def stream_of(entry: dict[str, Any]) -> str:
    """The stream an entry belongs to: its SSRC (a section's list interleaves its streams)."""
    return str(entry.get("ssrc"))


def entry_ms(entry: dict[str, Any]) -> int | None:
    """The entry's time (its sample's), in epoch ms; None without a readable one."""
    stamp = entry.get("timestamp")
    return rfc3339_ms(stamp) if isinstance(stamp, str) else None


def figure_of(entry: dict[str, Any], field: str, factor: float = 1.0) -> float | None:
    """A figure of the entry in the unit shown (`factor` converts), or None when it is
    missing or not a finite number."""
    value = entry.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) * factor
