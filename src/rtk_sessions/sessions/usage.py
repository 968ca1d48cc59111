"""Usage per UTC day: sessions started and participant minutes, the figures of
`GET /analytics/daywise` (docs/analytics.md).

A day's minutes are the parts of the peers' intervals that fall on it, so a call across
midnight counts on both days, and the days of a range add up to the sessions' own
`minutes_consumed`. Closed intervals are kept summed per (app, day) as the derived data
changes (`UsageChange`); intervals still open are added at read time, up to now.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from rtk_sessions.kit.errors import BadRequest

DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)


def day_of(ms: int) -> int:
    """Days since 1970-01-01 (UTC) of an epoch-milliseconds instant."""
    return ms // DAY_MS


def day_number(d: date) -> int:
    return (d - _EPOCH).days


def day_iso(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).isoformat()


def today(now_ms: int) -> date:
    return datetime.fromtimestamp(now_ms / 1000, UTC).date()


def split_by_day(start: int, end: int) -> Iterator[tuple[int, int]]:
    """(day, milliseconds) of the interval [start, end) on each UTC day it touches; nothing
    for an empty or inverted interval (a join stamped after its leave counts zero)."""
    while start < end:
        day = day_of(start)
        cut = min(end, (day + 1) * DAY_MS)
        yield day, cut - start
        start = cut


@dataclass
class UsageChange:
    """What a change of derived sessions and peers does to the per-day sums: removed rows
    subtract, added rows add; only closed intervals count (open ones are added on read)."""

    sessions: dict[int, int] = field(default_factory=dict)
    closed_ms: dict[int, int] = field(default_factory=dict)

    def session(self, started_at: int, sign: int) -> None:
        day = day_of(started_at)
        self.sessions[day] = self.sessions.get(day, 0) + sign

    def peer(self, joined_at: int, left_at: int | None, sign: int) -> None:
        if left_at is None:
            return
        for day, ms in split_by_day(joined_at, left_at):
            self.closed_ms[day] = self.closed_ms.get(day, 0) + sign * ms

    def rows(self) -> list[tuple[int, int, int]]:
        """(day, sessions, closed ms) for every day that changed, zeros dropped."""
        days = sorted(set(self.sessions) | set(self.closed_ms))
        out = [(d, self.sessions.get(d, 0), self.closed_ms.get(d, 0)) for d in days]
        return [r for r in out if r[1] or r[2]]


@dataclass(frozen=True)
class DayUsage:
    day: int
    sessions: int
    ms: int


def daywise(
    first: int,
    last: int,
    stored: Iterable[tuple[int, int, int]],
    open_joins: Iterable[int],
    now: int,
) -> list[DayUsage]:
    """Every day of [first, last] (zeros included): the stored sums plus the open intervals'
    parts up to `now`."""
    sessions = dict.fromkeys(range(first, last + 1), 0)
    ms = dict.fromkeys(range(first, last + 1), 0)
    for day, started, closed in stored:
        if day in sessions:
            sessions[day] += started
            ms[day] += closed
    for joined in open_joins:
        for day, part in split_by_day(max(joined, first * DAY_MS), min(now, (last + 1) * DAY_MS)):
            ms[day] += part
    return [DayUsage(d, sessions[d], ms[d]) for d in range(first, last + 1)]


MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30


def _date(name: str, raw: str | None) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name}={raw[:40]!r} is not a date; use YYYY-MM-DD (UTC)") from None


def day_range(start_date: str | None, end_date: str | None, now: int) -> tuple[int, int]:
    """First and last day (inclusive) asked for: by default the 30 days ending today (UTC);
    one end given, the other is 29 days from it. 400 for a bad date, an inverted range or
    one longer than 366 days."""
    start, end = _date("start_date", start_date), _date("end_date", end_date)
    span = timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start is None and end is None:
        end = today(now)
    if start is None:
        assert end is not None
        start = end - span
    if end is None:
        end = start + span
    if start > end:
        raise BadRequest("start_date is after end_date; swap them")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise BadRequest(
            f"the range spans {(end - start).days + 1} days; ask for at most {MAX_RANGE_DAYS}"
        )
    return day_number(start), day_number(end)
