"""Engines and transactions. One request or job is one transaction, committed here at the edge.

A read request runs in one read transaction, opened by the route's request-scoped dependency
(auth/deps.py `app_reading`, `ingest_reading`) and shared by the token check and the query.
Work that must write after reading does so in an explicit, named second phase, after the read
transaction has ended: the token's once-a-minute `last used` stamp (only when it is due), and
the peer report rebuilt when its stored one is stale, a chat or transcript file recorded after
it was built from the read (`Reading.end` first) (docs/api-decisions.md, "One request, one
read transaction"). RTK_TEST_COUNT_TRANSACTIONS makes the server count them per request.

SQLite gets two engines: readers begin deferred transactions in WAL mode and never block;
the single writer begins `BEGIN IMMEDIATE` behind a process lock, so concurrent writers queue
instead of failing with "database is locked". PostgreSQL uses one pool for both. Errors never carry the bound parameters (user input) into
logs: every engine hides them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from rtk_sessions.kit.private import private_file


class Tally:
    """How many transactions one request began (RTK_TEST_COUNT_TRANSACTIONS, tests only)."""

    def __init__(self) -> None:
        self.begun = 0


TALLY: ContextVar[Tally | None] = ContextVar("rtk_transaction_tally", default=None)


def _count_begin(_conn: Any) -> None:
    tally = TALLY.get()
    if tally is not None:
        tally.begun += 1


def _sqlite_engine(url: str, begin: str) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # durable before we acknowledge
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


@dataclass(frozen=True)
class Reading:
    """An open read transaction that its user may finish early with `end` (idempotent),
    before a write phase of its own: a file built from what was read, then recorded."""

    conn: AsyncConnection
    end: Callable[[], Awaitable[None]]


class Database:
    """Connections for reading and for writing, on SQLite or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            db_path = parsed.database
            if db_path and db_path != ":memory:":
                private_file(Path(db_path))  # its -wal and -shm files take its mode
            self.reader = _sqlite_engine(url, "BEGIN")
            self.writer = _sqlite_engine(url, "BEGIN IMMEDIATE")
        else:
            self.reader = create_async_engine(url, pool_pre_ping=True, hide_parameters=True)
            self.writer = self.reader
        for engine in {self.reader, self.writer}:
            event.listen(engine.sync_engine, "begin", _count_begin)
        self._write_lock = asyncio.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.reader.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Reading]:
        """`read()` whose transaction can be ended before the block does."""
        async with AsyncExitStack() as stack:
            yield Reading(await stack.enter_async_context(self.read()), stack.aclose)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; committed when the block exits without an exception."""
        if self.is_sqlite:
            async with self._write_lock, self.writer.begin() as conn:
                yield conn
        else:
            async with self.writer.begin() as conn:
                yield conn

    async def dispose(self) -> None:
        await self.reader.dispose()
        if self.writer is not self.reader:
            await self.writer.dispose()


async def serialize_on(conn: AsyncConnection, scope: int, name: str) -> None:
    """Hold a transaction-scoped lock on (scope, name) on PostgreSQL, so read-then-write work on
    one row (a summary request, a file record) cannot interleave. SQLite has one writer anyway."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:scope, hashtext(:name))"),
            {"scope": scope, "name": name},
        )
