"""Shared fixtures: a real database (SQLite by default, PostgreSQL when RTK_TEST_DATABASE_URL
names one), a real server process on loopback, and tokens made by the real CLI."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from rtk_sessions.kit.db import Database
from rtk_sessions.kit.migrate import upgrade
from support import PG_ENV, Server, fresh_postgres_database, running_server


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rtk-data")


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    """One migrated database per test run; tests keep apart by using their own app ids."""
    url = os.environ.get(PG_ENV)
    if not url:
        sqlite_url = f"sqlite+aiosqlite:///{data_dir / 'rtk.db'}"
        upgrade(sqlite_url)
        yield sqlite_url
        return
    with fresh_postgres_database(url) as pg_url:
        upgrade(pg_url)
        yield pg_url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def app_id() -> str:
    """A fresh app per test, so tests sharing the database never see each other's data."""
    return f"app-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def server(data_dir: Path, database_url: str) -> Iterator[Server]:
    """The shared server of the end-to-end tests (the idle sweep effectively off). Many tests
    fail authentication on purpose, all from 127.0.0.1: the limit on that has tests of its own
    (e2e/test_rate_limits.py) and is off here."""
    with running_server(
        data_dir, database_url, RTK_SWEEP_INTERVAL="3600", RTK_AUTH_FAILURE_LIMIT="off"
    ) as srv:
        yield srv
