"""The in-memory moving window (kit/ratelimit.py `MemoryWindows`): at most N hits in any
window, refusals not counted, the retry time of the oldest hit, and memory only for budgets
still in use."""

from __future__ import annotations

import pytest
from limits import parse

from rtk_sessions.kit import ratelimit
from rtk_sessions.kit.ratelimit import MemoryWindows


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(ratelimit.time, "time", c)
    return c


async def test_at_most_n_in_any_window(clock: Clock) -> None:
    windows, limit = MemoryWindows(), parse("3/minute")
    for _ in range(3):
        assert await windows.hit(limit, "requests", "read", "t1")
        clock.now += 10
    assert not await windows.test(limit, "requests", "read", "t1")
    assert not await windows.hit(limit, "requests", "read", "t1")  # refused, not counted
    assert await windows.hit(limit, "requests", "read", "t2")  # another key, its own budget
    stats = await windows.get_window_stats(limit, "requests", "read", "t1")
    assert stats.remaining == 0
    assert stats.reset_time == pytest.approx(1_000_000.0 + 60)  # when the first hit leaves
    clock.now = 1_000_000.0 + 59.5
    assert not await windows.hit(limit, "requests", "read", "t1")
    clock.now = 1_000_000.0 + 60.5  # the first hit left the window; the others have not
    assert await windows.hit(limit, "requests", "read", "t1")
    assert not await windows.hit(limit, "requests", "read", "t1")
    assert (await windows.get_window_stats(limit, "requests", "read", "t1")).remaining == 0


async def test_test_counts_nothing(clock: Clock) -> None:
    windows, limit = MemoryWindows(), parse("1/second")
    for _ in range(5):
        assert await windows.test(limit, "auth-failures", "10.0.0.1")
    assert len(windows) == 0
    assert await windows.hit(limit, "auth-failures", "10.0.0.1")
    assert not await windows.test(limit, "auth-failures", "10.0.0.1")


async def test_keys_of_spent_windows_are_dropped(clock: Clock) -> None:
    windows, limit = MemoryWindows(), parse("5/minute")
    for n in range(1000):
        assert await windows.hit(limit, "auth-failures", f"10.0.{n // 256}.{n % 256}")
    assert len(windows) == 1000
    clock.now += MemoryWindows.SWEEP_EVERY_S + 61  # every window has emptied
    assert await windows.hit(limit, "auth-failures", "10.9.9.9")
    assert len(windows) == 1  # the one just hit
