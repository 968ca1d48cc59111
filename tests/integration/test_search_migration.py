"""Migration 0005 on a database that already holds sessions and participants: every existing
row gets its search folds (computed in Python, in batches), search finds them ignoring case on
either database, the schema then equals `kit/tables.py`, and the downgrade restores 0004."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, select, text

from rtk_sessions.kit.db import Database
from rtk_sessions.kit.migrate import alembic_config
from rtk_sessions.kit.tables import metadata, peers, sessions
from rtk_sessions.sessions.folding import fold
from rtk_sessions.sessions.repo import ParticipantQuery, SessionQuery, list_peers, list_sessions
from support import own_database

ROWS = 4_500  # more than two backfill batches
TITLES = ["Alice Ñúñez weekly", "STRASSE 5", "Straße 7", "50% off_sale", "İstanbul"]
NAMES = ["Alice Ñúñez", "ÉMILE Zola", None]


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with own_database(tmp_path) as db_url:
        yield db_url


def _session(i: int) -> dict[str, Any]:
    return {
        "app_pk": 1,
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "meeting_id": f"Mtg-Ñ-{i}",
        "parent_session_id": None,
        "title": TITLES[i % len(TITLES)],
        "type": "meeting",
        "meta": None,
        "status": "ENDED",
        "started_at": i,
        "ended_at": i + 10,
        "own_ended_at": i + 10,
        "max_concurrent": 1,
        "open_count": 0,
        "closed_ms": 10,
        "open_join_sum_ms": 0,
        "own_updated_at": i,
        "updated_at": i,
    }


def _peer(i: int) -> dict[str, Any]:
    return {
        "app_pk": 1,
        "id": f"Peer-{i}",
        "session_id": _session(i // 3)["id"],
        "meeting_id": _session(i // 3)["meeting_id"],
        "user_id": None if i % 2 else f"USER-Ü-{i}",
        "custom_participant_id": None,
        "display_name": NAMES[i % len(NAMES)],
        "preset_name": None,
        "preset_view_type": "GROUP_CALL",
        "socket_session_id": None,
        "joined_at": i,
        "left_at": None,
        "updated_at": i,
    }


async def _fill_0004(url: str) -> None:
    """Rows as revision 0004 stored them (no folds), inserted as plain SQL."""
    db = Database(url)
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO accounts (id, created_at) VALUES ('a', 0)"))
        await conn.execute(
            text("INSERT INTO apps (pk, account_id, app_id, created_at) VALUES (1, 'a', 'x', 0)")
        )
        for table, rows in (
            ("sessions", [_session(i) for i in range(ROWS)]),
            ("peers", [_peer(i) for i in range(ROWS)]),
        ):
            columns = list(rows[0])
            names, binds = ", ".join(columns), ", ".join(f":{c}" for c in columns)
            await conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({binds})"), rows)
    await db.dispose()


def _schema_differences(conn: Connection) -> list[Any]:
    """What autogenerate would change; the search indexes live outside `metadata`."""
    context = MigrationContext.configure(conn)
    diffs = compare_metadata(context, metadata)
    return [
        d
        for d in diffs
        if not (d[0] == "remove_index" and d[1].name.endswith("_trgm"))
        and not (d[0] == "remove_table" and d[1].name.startswith("sessions_search"))
    ]


async def _check_upgraded(url: str) -> list[Any]:
    db = Database(url)
    async with db.read() as conn:
        for table, folds in (
            (sessions, {"title_folded": "title", "meeting_id_folded": "meeting_id"}),
            (
                peers,
                {
                    "id_folded": "id",
                    "user_id_folded": "user_id",
                    "display_name_folded": "display_name",
                    "custom_participant_id_folded": "custom_participant_id",
                },
            ),
        ):
            rows = (await conn.execute(select(table))).all()
            assert len(rows) == ROWS
            for row in rows:
                for target, source in folds.items():
                    assert row._mapping[target] == fold(row._mapping[source])

        async def titles(term: str) -> set[str]:
            found, total = await list_sessions(conn, 1, SessionQuery(search=term, per_page=5), 0)
            assert total >= len(found)
            return {s.title for s in found}

        assert await titles("ÑÚÑEZ") == {"Alice Ñúñez weekly"}
        assert await titles("ñúñez") == {"Alice Ñúñez weekly"}
        assert await titles("straße") == {"STRASSE 5", "Straße 7"}
        assert await titles("0% OFF_") == {"50% off_sale"}
        assert await titles("mtg-ñ-44") == set(TITLES)  # meeting ids Mtg-Ñ-44, -440 …
        first = _session(0)["id"]
        _, named = await list_peers(conn, 1, first, ParticipantQuery(search="ÑÚÑEZ"), 0)
        _, by_user = await list_peers(conn, 1, first, ParticipantQuery(search="user-ü-0"), 0)
        assert (named, by_user) == (1, 1)
        differences = await conn.run_sync(_schema_differences)
    await db.dispose()
    return differences


def test_upgrade_from_0004_folds_existing_rows_and_downgrade_restores(url: str) -> None:
    config = alembic_config(url)
    command.upgrade(config, "0004")
    asyncio.run(_fill_0004(url))
    command.upgrade(config, "head")
    assert asyncio.run(_check_upgraded(url)) == []
    command.downgrade(config, "0004")
    command.upgrade(config, "head")
    assert asyncio.run(_check_upgraded(url)) == []
