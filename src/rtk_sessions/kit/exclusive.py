"""Work that one process of a deployment does at a time, however many processes it has.

The idle sweep and the upkeep loop run in every `serve` and `worker` process, but only the
process holding their lock does a pass; the others only try to take the lock, once per
interval. So a deployment sweeps once per interval, not once per process, and when the
holder dies another process takes over at its next try (docs/operations.md, Several
processes).

A deployment is the processes sharing a database and a job queue name: the lock is named
after both, so test servers or deployments that share a database but not a queue keep apart.

* PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection kept
  for the purpose. The server frees it when that connection ends, which it does when the
  holding process dies in any way, SIGKILL included.
* SQLite (one host): `flock` on a file beside the database, freed by the kernel when the
  holding process ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from rtk_sessions.config import Settings
from rtk_sessions.kit import metrics
from rtk_sessions.kit.private import private_file
from rtk_sessions.kit.state import AppState

log = logging.getLogger("rtk_sessions.exclusive")

# A lock query that takes longer counts as a failure: the pass is skipped, not blocked.
_QUERY_TIMEOUT_S = 5.0


class Exclusive(Protocol):
    async def held(self) -> bool:
        """Whether this process holds the lock now: checks it still does, else tries to take
        it. Raises when the database cannot be asked."""
        ...

    async def release(self) -> None:
        """Give the lock up (at shutdown), so another process can take it at once."""
        ...


def exclusive(settings: Settings, name: str) -> Exclusive:
    """The deployment-wide lock `name` (e.g. "sweep") for the processes of `settings`."""
    scope = f"{name}\n{settings.effective_jobs_queue}"
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "postgresql":
        return _AdvisoryLock(settings.effective_database_url, name, _bigint(scope))
    if not url.database or url.database == ":memory:":
        return _OnlyProcess()  # a database of this process alone
    digest = hashlib.sha256(scope.encode()).hexdigest()[:12]
    return _FileLock(Path(f"{url.database}.{name}-{digest}.lock"), name)


async def run_exclusively(
    state: AppState,
    name: str,
    interval_s: float,
    one_pass: Callable[[], Awaitable[object]],
    logger: logging.Logger,
) -> None:
    """`one_pass()` every `interval_s` in the one process of the deployment holding the lock
    `name`; the others try to take it as often. A failing pass, or a lock the database cannot
    be asked about, is logged and reported by /healthz (`background_ok[name]`)."""
    lock = exclusive(state.settings, name)
    try:
        while True:
            try:
                if await lock.held():
                    await one_pass()
                    metrics.background_pass(name)
                state.background_ok[name] = True
            except Exception:
                logger.exception("%s pass failed", name)
                state.background_ok[name] = False
            await asyncio.sleep(interval_s)
    finally:
        await lock.release()


def _bigint(scope: str) -> int:
    """A signed 64-bit key for the advisory lock (the one-key form: `serialize_on` uses the
    two-key form, a separate key space)."""
    return int.from_bytes(hashlib.sha256(scope.encode()).digest()[:8], "big", signed=True)


def _took(name: str) -> None:
    log.info("this process now runs the %s of the deployment", name)


class _OnlyProcess:
    async def held(self) -> bool:
        return True

    async def release(self) -> None:
        pass


class _AdvisoryLock:
    """A PostgreSQL session lock on a connection of its own (outside any pool, autocommit, so
    it never sits idle in a transaction)."""

    def __init__(self, url: str, name: str, key: int) -> None:
        self._engine = create_async_engine(
            url, poolclass=NullPool, isolation_level="AUTOCOMMIT", hide_parameters=True
        )
        self._name = name
        self._key = key
        self._conn: AsyncConnection | None = None

    async def held(self) -> bool:
        async with asyncio.timeout(_QUERY_TIMEOUT_S):
            if self._conn is not None:
                try:
                    await self._conn.execute(text("SELECT 1"))  # the lock lives with it
                    return True
                except Exception:
                    log.warning("lost the connection holding the %s lock", self._name)
                    await self._drop()
            conn = await self._engine.connect()
            try:
                got = await conn.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
                )
            except BaseException:
                await conn.close()
                raise
            if not got:
                await conn.close()
                return False
            self._conn = conn
            _took(self._name)
            return True

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()  # ending the session frees its advisory locks
        await self._engine.dispose()


class _FileLock:
    """`flock` on a private file; the descriptor stays open while this process holds it."""

    def __init__(self, path: Path, name: str) -> None:
        self._path = path
        self._name = name
        self._fd: int | None = None

    async def held(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(private_file(self._path), os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _took(self._name)
        return True

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor frees the lock
