"""Deployment-wide locks (kit/exclusive.py) on the real database: one holder at a time, held
until released or until the holding process dies (SIGKILL included), and kept apart per job
queue. On PostgreSQL also: processes migrating one fresh database at once all succeed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from rtk_sessions.config import Settings
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.exclusive import exclusive
from rtk_sessions.kit.migrate import alembic_config
from support import PG_ENV, fresh_postgres_database, spawned


def _settings(tmp_path: Path, database_url: str, queue: str) -> Settings:
    return Settings(data_dir=tmp_path, database_url=database_url, jobs_queue=queue)


async def test_one_holder_at_a_time_per_queue(tmp_path: Path, database_url: str) -> None:
    queue = f"rtk-test-{uuid.uuid4().hex[:8]}"
    first = exclusive(_settings(tmp_path, database_url, queue), "sweep")
    second = exclusive(_settings(tmp_path, database_url, queue), "sweep")
    upkeep = exclusive(_settings(tmp_path, database_url, queue), "upkeep")
    elsewhere = exclusive(_settings(tmp_path, database_url, queue + "-other"), "sweep")
    try:
        assert await first.held()
        assert not await second.held()
        assert await first.held()  # still held: checked, not taken again
        assert await upkeep.held() and await elsewhere.held()  # other names, other queues
        await first.release()
        assert await second.held()
        assert not await first.held()
    finally:
        for lock in (first, second, upkeep, elsewhere):
            await lock.release()


HOLDER = """
import asyncio, sys, time
from rtk_sessions.config import Settings
from rtk_sessions.kit.exclusive import exclusive

async def main():
    lock = exclusive(Settings(data_dir=sys.argv[1], database_url=sys.argv[2],
                              jobs_queue=sys.argv[3]), "sweep")
    print("held" if await lock.held() else "refused", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_a_killed_holder_frees_the_lock(tmp_path: Path, database_url: str) -> None:
    queue = f"rtk-test-{uuid.uuid4().hex[:8]}"
    lock = exclusive(_settings(tmp_path, database_url, queue), "sweep")
    out = tmp_path / "holder.log"
    args = [sys.executable, "-c", HOLDER, str(tmp_path), database_url, queue]
    try:
        with spawned(args, dict(os.environ), out) as holder:
            deadline = time.monotonic() + 20
            while "held" not in out.read_text():
                assert holder.poll() is None and time.monotonic() < deadline, out.read_text()
                await asyncio.sleep(0.05)
            assert not await lock.held()
            os.killpg(holder.pid, signal.SIGKILL)
            holder.wait()
            deadline = time.monotonic() + 10
            while not await lock.held():
                assert time.monotonic() < deadline, "the lock outlived its killed holder"
                await asyncio.sleep(0.05)
    finally:
        await lock.release()


@pytest.mark.skipif(not os.environ.get(PG_ENV), reason="PostgreSQL only: SQLite has one writer")
def test_processes_migrating_one_new_database_at_once_all_succeed() -> None:
    code = "import sys; from rtk_sessions.kit.migrate import upgrade; upgrade(sys.argv[1])"
    with fresh_postgres_database(os.environ[PG_ENV]) as url:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, url],
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            for _ in range(3)
        ]
        try:
            errors = [p.communicate(timeout=60)[1] for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        assert [p.returncode for p in procs] == [0, 0, 0], errors
        assert (
            asyncio.run(_version(url))
            == ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        )


async def _version(url: str) -> str | None:
    db = Database(url)
    try:
        async with db.read() as conn:
            return await conn.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await db.dispose()
