"""kit/db.py on the real database: SQLite's one-trip cursor behaves as a DB-API cursor
(rows, row counts, last row ids, errors, rollback), and PostgreSQL's pool replaces a
connection that died while idle before using it, and recovers after one that died in use."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from rtk_sessions.kit import db as db_module
from rtk_sessions.kit.db import Database


async def _scratch_table(db: Database, name: str) -> None:
    async with db.write() as conn:
        await conn.execute(text(f"CREATE TABLE {name} (k INTEGER PRIMARY KEY, v TEXT NOT NULL)"))


async def test_statements_rows_counts_and_errors(db: Database, app_id: str) -> None:
    table = "scratch_" + app_id.replace("-", "_")
    await _scratch_table(db, table)
    try:
        async with db.write() as conn:
            await conn.execute(
                text(f"INSERT INTO {table} (k, v) VALUES (:k, :v)"),
                [{"k": k, "v": f"v{k}"} for k in range(1, 6)],
            )
            updated = await conn.execute(text(f"UPDATE {table} SET v = 'w' WHERE k > 3"))
            assert updated.rowcount == 2
        with pytest.raises(IntegrityError):
            async with db.write() as conn:
                await conn.execute(text(f"INSERT INTO {table} (k, v) VALUES (6, 'kept?')"))
                await conn.execute(text(f"INSERT INTO {table} (k, v) VALUES (1, 'duplicate')"))
        async with db.read() as conn:
            rows = (await conn.execute(text(f"SELECT k, v FROM {table} ORDER BY k"))).all()
            assert [tuple(r) for r in rows] == [(1, "v1"), (2, "v2"), (3, "v3"), (4, "w"), (5, "w")]
            assert (await conn.execute(text(f"SELECT v FROM {table} WHERE k = 9"))).first() is None
            with pytest.raises((OperationalError, ProgrammingError)):
                await conn.execute(text("SELECT * FROM no_such_table"))
        async with db.read() as conn:  # the pool's connection still works after the error
            assert (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar() == 5
    finally:
        async with db.write() as conn:
            await conn.execute(text(f"DROP TABLE {table}"))


async def _terminate(url: str, pids: set[int]) -> None:
    """End these server processes (the pool's connections) from a connection of its own."""
    other = Database(url)
    try:
        async with other.write() as conn:
            for pid in pids:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()


async def _pids(db: Database, n: int) -> set[int]:
    """Check out `n` connections at once, so the pool holds that many."""
    pids: set[int] = set()
    async with AsyncExitStack() as stack:
        for _ in range(n):
            conn = await stack.enter_async_context(db.read())
            pids.add((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    return pids


async def test_postgres_idle_connection_replaced_before_use(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL's pool")
    before = await _pids(db, 2)
    await _terminate(db.url, before)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)  # every pooled one is idle now
    after = await _pids(db, 2)
    assert not before & after  # both were pinged, found dead and replaced, and nothing failed


async def test_postgres_connection_dead_in_use_fails_once(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL's pool")
    before = await _pids(db, 1)
    await _terminate(db.url, before)  # not idle long enough to be pinged: used as it is
    with pytest.raises(DBAPIError) as failed:
        async with db.read() as conn:
            await conn.execute(text("SELECT 1"))
    assert failed.value.connection_invalidated
    assert not before & await _pids(db, 2)  # the pool was emptied: new connections


async def test_sqlite_read_transaction_sees_one_snapshot(db: Database, app_id: str) -> None:
    """BEGIN goes out with the transaction's first statement (kit/db.py): from that statement
    on, the read sees one snapshot, whatever commits meanwhile."""
    if not db.is_sqlite:
        pytest.skip("SQLite's deferred BEGIN")
    table = "snap_" + app_id.replace("-", "_")
    await _scratch_table(db, table)
    try:
        async with db.write() as conn:
            await conn.execute(text(f"INSERT INTO {table} (k, v) VALUES (1, 'old')"))
        async with db.read() as reading:
            query = text(f"SELECT v FROM {table} WHERE k = 1")
            assert (await reading.execute(query)).scalar_one() == "old"
            async with db.write() as conn:
                await conn.execute(text(f"UPDATE {table} SET v = 'new' WHERE k = 1"))
            assert (await reading.execute(query)).scalar_one() == "old"
        async with db.read() as reading:
            assert (await reading.execute(query)).scalar_one() == "new"
    finally:
        async with db.write() as conn:
            await conn.execute(text(f"DROP TABLE {table}"))


async def test_long_results_whole_and_streamed(db: Database, app_id: str) -> None:
    """Results longer than what the SQLite cursor fetches with its statement come whole, and
    `conn.stream` still hands them out in parts."""
    table = "long_" + app_id.replace("-", "_")
    await _scratch_table(db, table)
    n = 2_500
    try:
        async with db.write() as conn:
            await conn.execute(
                text(f"INSERT INTO {table} (k, v) VALUES (:k, :v)"),
                [{"k": k, "v": f"v{k}"} for k in range(n)],
            )
        query = text(f"SELECT k, v FROM {table} ORDER BY k")
        async with db.read() as conn:
            rows = (await conn.execute(query)).all()
            assert [r.k for r in rows] == list(range(n))
            parts = []
            result = await conn.stream(query.execution_options(yield_per=700))
            async for part in result.partitions(700):
                parts.append([r.k for r in part])
            assert [len(p) for p in parts] == [700, 700, 700, 400]
            assert [k for p in parts for k in p] == list(range(n))
            first = await conn.stream(query.execution_options(yield_per=10))
            assert [r.k for r in await first.fetchmany(3)] == [0, 1, 2]
            await first.close()  # abandoned early: the statement's cursor is closed
            assert (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar() == n
    finally:
        async with db.write() as conn:
            await conn.execute(text(f"DROP TABLE {table}"))
