"""The JSON values of an rtcstats dump as the reader accepts them: finite numbers, short
text, SSRCs, references between stats objects. Shared by lines, samples and figures so that
each reads a value the same way."""

from __future__ import annotations

import math
from typing import Any, TypeGuard

Json = dict[str, Any]
EPOCH_2000_MS = 946_684_800_000


def is_number(value: Any, *, negative: bool = False) -> TypeGuard[int | float]:
    """A finite JSON number (not a boolean), non-negative unless `negative`."""
    if type(value) is not int and type(value) is not float:
        return False
    return math.isfinite(value) and (negative or value >= 0)


def as_number(value: Any) -> float | None:
    """A number, also from the numeric strings of legacy Chrome stats."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    return float(value) if is_number(value, negative=True) else None


def is_text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= 256 and "\x00" not in value


def is_ssrc(value: Any) -> TypeGuard[int]:
    return type(value) is int and 0 <= value < 2**32


def by_id(stats: dict[str, Json], key: Any) -> Json | None:
    """The stats object another one refers to by id (`trackId`, `remoteId`, …), if any."""
    return stats.get(key) if isinstance(key, str) else None
