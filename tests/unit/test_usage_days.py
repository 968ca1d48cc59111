"""Per-day usage arithmetic (sessions.usage): splitting intervals at UTC midnight, the sums a
change makes, and the ranges `GET /analytics/daywise` accepts."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.kit.errors import BadRequest
from rtk_sessions.sessions.usage import (
    DAY_MS,
    UsageChange,
    day_iso,
    day_number,
    day_range,
    daywise,
    split_by_day,
)

D = 20_000  # 2024-10-04
NOW = (D + 10) * DAY_MS + 12 * 3_600_000  # noon, ten days later


def test_an_interval_across_midnight_counts_on_both_days() -> None:
    start = D * DAY_MS + 23 * 3_600_000  # 23:00
    assert list(split_by_day(start, start + 2 * 3_600_000)) == [
        (D, 3_600_000),
        (D + 1, 3_600_000),
    ]
    assert list(split_by_day(start, start)) == [], "a zero-length visit adds nothing"
    assert list(split_by_day(start, start - 1)) == [], "nor does a leave before the join"
    three = list(split_by_day(D * DAY_MS, (D + 3) * DAY_MS))
    assert three == [(D, DAY_MS), (D + 1, DAY_MS), (D + 2, DAY_MS)]


@given(st.integers(0, 40 * DAY_MS), st.integers(0, 5 * DAY_MS))
def test_parts_add_up_and_stay_within_their_day(start: int, length: int) -> None:
    parts = list(split_by_day(start, start + length))
    assert sum(ms for _, ms in parts) == length
    assert all(0 < ms <= DAY_MS for _, ms in parts)
    assert [d for d, _ in parts] == list(range(start // DAY_MS, start // DAY_MS + len(parts)))


def test_a_change_subtracts_what_it_removes_and_drops_zeros() -> None:
    change = UsageChange()
    t = D * DAY_MS + 23 * 3_600_000
    change.session(t, -1)
    change.peer(t, t + 2 * 3_600_000, -1)
    change.session(t, +1)
    change.peer(t, t + 3_600_000, +1)  # the same peer, now leaving at midnight
    change.peer(t, None, +1)  # still connected: counted on read, not stored
    assert change.rows() == [(D + 1, 0, -3_600_000)]


def test_daywise_fills_every_day_and_adds_open_intervals_up_to_now() -> None:
    stored = [(D + 1, 2, 600_000), (D + 40, 9, 9)]  # the second is outside the range
    open_join = NOW - DAY_MS  # joined yesterday at noon, still there
    days = daywise(D, D + 10, stored, [open_join, NOW + 60_000], NOW)
    assert [d.day for d in days] == list(range(D, D + 11))
    by_day = {d.day: (d.sessions, d.ms) for d in days}
    assert by_day[D + 1] == (2, 600_000)
    assert by_day[D + 9] == (0, DAY_MS // 2) and by_day[D + 10] == (0, DAY_MS // 2)
    assert sum(d.ms for d in days) == 600_000 + DAY_MS, "a join in the future adds nothing yet"


def test_ranges() -> None:
    today = day_number(date(2024, 10, 14))
    assert day_range(None, None, NOW) == (today - 29, today)
    assert day_range("2024-10-01", None, NOW) == (today - 13, today - 13 + 29)
    assert day_range(None, "2024-10-01", NOW) == (today - 13 - 29, today - 13)
    first, last = day_range("2024-01-01", "2024-12-31", NOW)
    assert last - first + 1 == 366, "366 days (a leap year) is the most"
    assert day_iso(today) == "2024-10-14"
    cases = {
        ("2024-10-02", "2024-10-01"): "swap",
        ("2023-01-01", "2024-01-02"): "at most 366",
        ("2024-1-01", None): "YYYY-MM-DD",
        ("yesterday", None): "YYYY-MM-DD",
        (None, "2024-02-30"): "YYYY-MM-DD",
        ("2024-10-01T00:00:00Z", None): "YYYY-MM-DD",
    }
    for (start, end), fix in cases.items():
        with pytest.raises(BadRequest) as refused:
            day_range(start, end, NOW)
        assert fix in refused.value.message, (start, end)
