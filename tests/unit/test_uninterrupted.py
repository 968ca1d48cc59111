"""kit.aio.uninterrupted: the work ends even when its caller is cancelled, once or twice;
then the caller is cancelled, unless the work failed."""

from __future__ import annotations

import asyncio

import pytest

from rtk_sessions.kit.aio import uninterrupted


async def step(started: asyncio.Event, release: asyncio.Event, done: list[str]) -> str:
    started.set()
    await release.wait()
    done.append("stored")
    return "stored"


async def test_a_cancelled_caller_waits_for_the_work_then_is_cancelled() -> None:
    started, release, done = asyncio.Event(), asyncio.Event(), []
    caller = asyncio.create_task(uninterrupted(step(started, release, done)))
    await started.wait()
    for _ in range(2):  # a second cancellation does not abandon the work either
        caller.cancel()
        await asyncio.sleep(0.01)
        assert not caller.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert done == ["stored"]


async def test_the_work_s_result_and_error_reach_the_caller() -> None:
    started, release, done = asyncio.Event(), asyncio.Event(), []
    release.set()
    assert await uninterrupted(step(started, release, done)) == "stored"

    async def failing() -> None:
        await asyncio.sleep(0.01)
        raise OSError("disk full")

    caller = asyncio.create_task(uninterrupted(failing()))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(OSError, match="disk full"):  # the failure is not hidden by the cancel
        await caller
