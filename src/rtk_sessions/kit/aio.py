"""Asyncio helpers: blocking writers over rows an async cursor delivers; steps that must
not stop halfway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

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


async def uninterrupted(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to its end even when the caller is cancelled meanwhile; a cancelled caller
    waits for it, then is cancelled (unless the work failed: its error comes first).

    For a step that must not stop halfway, such as a flush that has taken lines from a buffer
    and stored part of them: cancelled between two awaits it would lose the rest."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled and task.exception() is None:
        raise asyncio.CancelledError
    return task.result()
