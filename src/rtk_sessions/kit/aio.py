"""Running blocking writers over rows that an async database cursor delivers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def drain_in_thread(rows: AsyncIterator[list[T]], consume: Callable[[Iterator[T]], R]) -> R:
    """Run `consume` in a thread over rows fetched batch by batch on this event loop.

    Only one batch is in memory at a time, and the blocking writer (CSV, files) stays off the
    event loop while the database driver stays on it.
    """
    loop = asyncio.get_running_loop()

    def pull() -> Iterator[T]:
        while True:
            future = asyncio.run_coroutine_threadsafe(_next(rows), loop)
            batch = future.result()
            if batch is None:
                return
            yield from batch

    return await asyncio.to_thread(consume, pull())


async def _next(rows: AsyncIterator[list[T]]) -> list[T] | None:
    try:
        return await rows.__anext__()
    except StopAsyncIteration:
        return None
