"""CPU-heavy pure functions run in bounded pools of worker processes, off the event loop.

A thread is not enough: decoding, validating and summarizing hold the GIL (long C calls, or
Python loops that make the event loop wait for the GIL at every switch), so the API would
still stall. Each pool is created on first use, with the `forkserver` start method (`spawn`
where there is none): forking a threaded server copies locks held by other threads. Worker
processes end with the process that started them, and `shutdown()` (at exit, and when the
app stops) ends them. docs/adr/0004-cpu-work-off-the-event-loop.md says what runs where.

Two pools, so that long jobs never queue ahead of request bodies: `REQUESTS` (decoding
bodies and dumps, RTK_CPU_WORKERS processes) and `JOBS` (one process per job worker thread).
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from typing import Any, ParamSpec, TypeVar

import msgspec

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

REQUESTS, JOBS = "requests", "jobs"
NICENESS = 10
_CHUNK = 200

_sizes = {REQUESTS: 2, JOBS: 2}
_pools: dict[str, ProcessPoolExecutor] = {}
_preload: list[str] = []
_lock = threading.Lock()


class WorkerDied(RuntimeError):
    """A worker process ended in the middle of the work (killed, or out of memory)."""


def configure(*, requests: int, jobs: int, preload: Sequence[str] = ()) -> None:
    """Pool sizes (at least 1), and modules the fork server imports once for every worker it
    starts (so none pays for the imports on its first call). Pools already running keep what
    they have until `shutdown()`."""
    with _lock:
        _sizes[REQUESTS], _sizes[JOBS] = max(1, requests), max(1, jobs)
        _preload[:] = preload


async def run(pool: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`fn(*args)` in a worker process of `pool`, awaited without blocking the event loop.

    `fn` must be a module-level function; arguments, result and exceptions are pickled.
    Submitting may start a worker (waiting for the fork server), so it happens in a thread."""
    future = await asyncio.to_thread(functools.partial(_submit, pool, fn, *args, **kwargs))
    try:
        return await asyncio.wrap_future(future)
    except BrokenProcessPool:
        raise _died(pool) from None


def call(pool: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`fn(*args)` in a worker process of `pool`, blocking the calling (worker) thread."""
    future = _submit(pool, fn, *args, **kwargs)
    try:
        return future.result()
    except BrokenProcessPool:
        raise _died(pool) from None


async def run_list(
    pool: str, decoder: msgspec.msgpack.Decoder[list[T]], fn: Callable[..., list[T]], *args: Any
) -> list[T]:
    """`run` for a function returning a long list of msgspec-encodable items.

    Unpickling a large result would hold the GIL, and so the event loop, in one long call; the
    list comes back instead as MessagePack chunks of `_CHUNK` items (`pack`), each read by
    `decoder` (of `list[item type]`) with the event loop free to run between them (`unpack`)."""
    return await unpack(decoder, await run(pool, _packed, fn, *args))


def pack(items: Sequence[Any]) -> list[bytes]:
    """A long list as MessagePack chunks, in a worker process, for `unpack` on the loop."""
    encode = msgspec.msgpack.Encoder().encode
    return [encode(items[i : i + _CHUNK]) for i in range(0, len(items), _CHUNK)]


async def unpack(decoder: msgspec.msgpack.Decoder[list[T]], chunks: list[bytes]) -> list[T]:
    """The list `pack` made, decoded chunk by chunk with the event loop free in between."""
    items: list[T] = []
    for chunk in chunks:
        items += decoder.decode(chunk)
        await asyncio.sleep(0)
    return items


def _packed(fn: Callable[..., list[T]], *args: Any) -> list[bytes]:
    return pack(fn(*args))


def warm(pool: str) -> None:
    """Start `pool` and one worker, and wait until it answers, so that the first request does
    not wait for them."""
    call(pool, os.getpid)


def shutdown() -> None:
    """End every pool's processes now. Work in progress is abandoned: a request being read
    fails with its server, and a job is safe to run again (docs/jobs.md)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        processes = list(getattr(pool, "_processes", {}).values())  # public only from 3.14
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=10)


def _submit(pool: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Future[R]:
    executor = _executor(pool)
    try:
        future = executor.submit(fn, *args, **kwargs)
    except BrokenProcessPool:
        _forget(pool, executor)
        raise _died(pool) from None
    future.add_done_callback(lambda f: _on_done(pool, executor, f))
    return future


def _died(pool: str) -> WorkerDied:
    return WorkerDied(f"a {pool} worker process died; the next call starts a new one")


def _on_done(pool: str, executor: ProcessPoolExecutor, future: Future[Any]) -> None:
    if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
        _forget(pool, executor)  # a broken pool refuses all further work: start afresh


def _forget(pool: str, executor: ProcessPoolExecutor) -> None:
    with _lock:
        if _pools.get(pool) is executor:
            del _pools[pool]
    executor.shutdown(wait=False, cancel_futures=True)


def _executor(pool: str) -> ProcessPoolExecutor:
    with _lock:
        executor = _pools.get(pool)
        if executor is None:
            context: BaseContext = multiprocessing.get_context("spawn")
            if "forkserver" in multiprocessing.get_all_start_methods():
                forkserver = multiprocessing.get_context("forkserver")
                forkserver.set_forkserver_preload(_preload)  # read when the server starts
                context = forkserver
            executor = ProcessPoolExecutor(
                _sizes[pool],
                mp_context=context,
                initializer=_worker_setup,
                initargs=(os.getpid(),),
            )
            _pools[pool] = executor
        return executor


def _worker_setup(owner: int) -> None:
    """A worker yields the CPU to the API (a lower priority), ignores Ctrl-C (its owner's to
    handle), and ends when its owner does, even by SIGKILL. (Its parent is the fork server,
    which the workers themselves keep alive, so only watching the owner works.)"""
    os.nice(NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(owner,), daemon=True).start()


def _exit_with(owner: int) -> None:
    try:
        select.select([os.pidfd_open(owner)], [], [])  # readable once the owner has ended
    except (AttributeError, OSError):  # no pidfd (not Linux 5.3+): ask now and then
        while _alive(owner):
            time.sleep(2)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        pass
    return True


atexit.register(shutdown)
