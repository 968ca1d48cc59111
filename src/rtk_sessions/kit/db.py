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
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from rtk_sessions.kit.private import private_file


class Tally:
    """How many transactions one request began, and how many statements it ran
    (RTK_TEST_COUNT_TRANSACTIONS, tests only)."""

    def __init__(self) -> None:
        self.begun = 0
        self.statements = 0


TALLY: ContextVar[Tally | None] = ContextVar("rtk_transaction_tally", default=None)


def _count_begin(_conn: Any) -> None:
    tally = TALLY.get()
    if tally is not None:
        tally.begun += 1


def _count_statement(*_args: Any) -> None:
    tally = TALLY.get()
    if tally is not None:
        tally.statements += 1


class _OneHopCursor:
    """An aiosqlite cursor whose statement, first rows and close are one trip to the
    connection's thread and back, instead of four (create, execute, fetch, close), and the
    transaction's BEGIN rides along with its first statement. A result longer than
    `PREFETCH` rows keeps its sqlite3 cursor open on that thread and is fetched further on
    demand, so streamed results (`conn.stream`) stay streamed. Errors are sqlite3's."""

    PREFETCH = 1000

    __slots__ = (
        "_connection",
        "_open",
        "_rows",
        "arraysize",
        "description",
        "lastrowid",
        "rowcount",
    )

    def __init__(self, connection: _OneHopConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []
        self._open: sqlite3.Cursor | None = None  # rows left on the connection's thread

    async def __aenter__(self) -> _OneHopCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _run(
        self, begin: str | None, many: bool, operation: str, parameters: Any
    ) -> tuple[Any, int, Any, list[Any], sqlite3.Cursor | None]:
        """On the connection's thread."""
        cursor = self._connection._conn.cursor()
        try:
            if begin is not None:
                cursor.execute(begin)
            (cursor.executemany if many else cursor.execute)(operation, parameters)
            rows = cursor.fetchmany(self.PREFETCH) if cursor.description else []
        except BaseException:
            cursor.close()
            raise
        more = len(rows) == self.PREFETCH
        outcome = (cursor.description, cursor.rowcount, cursor.lastrowid, rows)
        if not more:
            cursor.close()
        return (*outcome, cursor if more else None)

    async def _call(self, many: bool, operation: str, parameters: Any) -> _OneHopCursor:
        await self.close()
        connection = self._connection
        begin, connection.begin_pending = connection.begin_pending, None
        outcome = await connection._execute(  # type: ignore[no-untyped-call]
            self._run, begin, many, operation, parameters
        )
        self.description, self.rowcount, self.lastrowid, self._rows, self._open = outcome
        return self

    async def execute(self, operation: str, parameters: Any = ()) -> _OneHopCursor:
        return await self._call(False, operation, parameters)

    async def executemany(self, operation: str, parameters: Any) -> _OneHopCursor:
        return await self._call(True, operation, parameters)

    @staticmethod
    def _more(cursor: sqlite3.Cursor, size: int | None) -> tuple[list[Any], bool]:
        """On the connection's thread: up to `size` more rows (all if None); closes the
        cursor once it is exhausted."""
        try:
            rows = cursor.fetchall() if size is None else cursor.fetchmany(size)
        except BaseException:
            cursor.close()
            raise
        done = size is None or len(rows) < size
        if done:
            cursor.close()
        return rows, done

    async def _fill(self, wanted: int | None) -> None:
        """Buffer at least `wanted` rows (all if None) while the statement has more."""
        if self._open is None or (wanted is not None and len(self._rows) >= wanted):
            return
        size = None if wanted is None else max(wanted - len(self._rows), self.PREFETCH)
        cursor = self._open
        rows, done = await self._connection._execute(  # type: ignore[no-untyped-call]
            self._more, cursor, size
        )
        self._rows.extend(rows)
        if done:
            self._open = None

    async def fetchall(self) -> list[Any]:
        await self._fill(None)
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self.arraysize if size is None else size
        await self._fill(size)
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchone(self) -> Any:
        rows = await self.fetchmany(1)
        return rows[0] if rows else None

    async def __aiter__(self) -> AsyncIterator[Any]:
        while (row := await self.fetchone()) is not None:
            yield row

    async def close(self) -> None:
        self._rows = []
        cursor, self._open = self._open, None
        if cursor is not None and self._connection._connection is not None:
            await self._connection._execute(cursor.close)  # type: ignore[no-untyped-call]


class _OneHopConnection(aiosqlite.Connection):
    """aiosqlite's connection (its thread, its queue) with `_OneHopCursor` cursors. A
    transaction's BEGIN waits for its first statement (SQLite's deferred BEGIN takes no lock
    and no snapshot before that statement anyway; BEGIN IMMEDIATE takes the write lock then,
    still inside `Database.write`'s process lock); one that ends before any statement ran
    costs no trip at all."""

    begin_pending: str | None = None

    def cursor(self) -> _OneHopCursor:  # type: ignore[override]
        return _OneHopCursor(self)

    async def commit(self) -> None:
        if self.begin_pending is not None:
            self.begin_pending = None  # nothing ran: nothing to commit
            return
        await super().commit()

    async def rollback(self) -> None:
        if self.begin_pending is not None:
            self.begin_pending = None
            return
        await super().rollback()


def _one_hop_connect(database: str, **kwargs: Any) -> _OneHopConnection:
    """What `aiosqlite.connect` does, for `_OneHopConnection`; SQLAlchemy awaits it."""
    kwargs.pop("iter_chunk_size", None)
    connection = _OneHopConnection(lambda: sqlite3.connect(database, **kwargs), 64)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own
    return connection


def _sqlite_engine(url: str, begin: str) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "do_connect")
    def _one_hop(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["async_creator_fn"] = _one_hop_connect

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
        conn.connection.driver_connection.begin_pending = begin  # sent with the first statement

    return engine


PING_AFTER_IDLE_S = 10.0


def _ping(dialect: Any, dbapi_connection: Any) -> None:
    """The dialect's own liveness check (asyncpg: BEGIN, `;`, ROLLBACK: three round trips)."""
    dialect.do_ping(dbapi_connection)


def _postgres_engine(url: str) -> AsyncEngine:
    """A pool that pings a connection only when it sat idle in the pool for more than
    PING_AFTER_IDLE_S, instead of at every checkout (`pool_pre_ping`, three round trips per
    request): a connection in steady use has just proven itself. An idle one (a restart or a
    failover of the server, a proxy's idle timeout) is replaced before use, as with the
    pre-ping. A connection that drops while busy fails its request, and SQLAlchemy then
    discards every connection of the pool, so the next request connects afresh
    (docs/postgresql.md)."""
    engine = create_async_engine(url, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["rtk_idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("rtk_idle_since")
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_S:
            return
        try:
            _ping(engine.dialect, dbapi_connection)
        except Exception as exc:  # the pool retries with a new connection
            raise DisconnectionError("the idle connection is gone") from exc

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
            self.reader = _postgres_engine(url)
            self.writer = self.reader
        for engine in {self.reader, self.writer}:
            event.listen(engine.sync_engine, "begin", _count_begin)
            event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
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
