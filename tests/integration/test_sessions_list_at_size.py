"""`GET /sessions` at size (docs/api-decisions.md, "The sessions list at size"), on the test's
database (SQLite, or PostgreSQL with RTK_TEST_DATABASE_URL):

- every page and `total_count` equal a brute-force filter and sort in Python over random
  sessions with tied keys and LIVE sessions (also LIVE parents with no open peer), for both
  sort keys, both orders, every filter, deep pages read from the far end, and past the end;
- `session_counts` equals a count of the rows after each kind of write: the ingest path,
  the idle sweep, a rebuild, and plain statements;
- migration 0010 backfills the counts from existing rows;
- no list shape reads the whole sessions or peers table, nor (SQLite) walks every session of
  the app except in the order the page asks for.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, select, text, update

from rtk_sessions.auth.repo import ensure_app
from rtk_sessions.ingest import service as ingest
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.migrate import alembic_config
from rtk_sessions.kit.plans import plan, recorded, whole_reads
from rtk_sessions.kit.tables import session_counts, sessions
from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.sessions import derived_repo
from rtk_sessions.sessions.accounting import consumed_ms
from rtk_sessions.sessions.folding import fold
from rtk_sessions.sessions.queries import participants_request
from rtk_sessions.sessions.repo import SessionQuery, list_sessions
from rtk_sessions.sessions.service import list_participants
from support import own_database

T0 = 1_767_607_200_000
MIN = 60_000
TITLES = ["Board review", "Weekly sync", "Retro", "Ünïcode STRASSE"]


def _session(rnd: random.Random, pk: int, i: int) -> dict[str, Any]:
    live = rnd.random() < 0.25
    open_count = rnd.choice([0, 1, 2, 3]) if live else 0  # a LIVE parent may have none open
    started = T0 + rnd.randint(0, 40) * MIN  # ties
    title = f"{rnd.choice(TITLES)} {i % 9}"
    meeting = f"Meeting-{rnd.randint(0, 30)}"
    return {
        "app_pk": pk,
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "meeting_id": meeting,
        "parent_session_id": None,
        "title": title,
        "type": "meeting",
        "meta": None,
        "status": "LIVE" if live else "ENDED",
        "started_at": started,
        "ended_at": None if live else started + 5 * MIN,
        "own_ended_at": None if live else started + 5 * MIN,
        "max_concurrent": rnd.randint(0, 6),
        "open_count": open_count,
        "closed_ms": rnd.choice([0, MIN, 2 * MIN, rnd.randint(0, 10 * MIN)]),  # ties
        "open_join_sum_ms": sum(started + rnd.randint(0, 20 * MIN) for _ in range(open_count)),
        "own_updated_at": started,
        "updated_at": started,
        "title_folded": fold(title),
        "meeting_id_folded": fold(meeting),
    }


async def _app(db: Database, app_id: str, rows: int, seed: int) -> tuple[int, list[dict[str, Any]]]:
    rnd = random.Random(seed)
    async with db.write() as conn:
        pk = await ensure_app(conn, "acct-size", app_id, T0)
        made = [_session(rnd, pk, i) for i in range(rows)]
        await conn.execute(insert(sessions), made)
    return pk, made


def _expected(rows: list[dict[str, Any]], q: SessionQuery, now: int) -> tuple[list[str], int]:
    def keep(r: dict[str, Any]) -> bool:
        term = fold(q.search) if q.search else None
        return (
            (q.start_time is None or r["started_at"] >= q.start_time)
            and (q.end_time is None or r["started_at"] < q.end_time)
            and (not q.status or r["status"] == q.status)
            and (not q.associated_id or r["meeting_id"] == q.associated_id)
            and (q.min_participants is None or r["max_concurrent"] >= q.min_participants)
            and (q.max_participants is None or r["max_concurrent"] <= q.max_participants)
            and (
                term is None
                or term in r["title_folded"]
                or term in r["meeting_id_folded"]
                or term in r["id"]
            )
        )

    def key(r: dict[str, Any]) -> tuple[int, str]:
        if q.sort_by == "minutesConsumed":
            return (
                consumed_ms(r["closed_ms"], r["open_count"], r["open_join_sum_ms"], now),
                r["id"],
            )
        return r["started_at"], r["id"]

    found = sorted(filter(keep, rows), key=key, reverse=q.descending)
    start = (q.page_no - 1) * q.per_page
    return [r["id"] for r in found[start : start + q.per_page]], len(found)


def _random_query(rnd: random.Random) -> SessionQuery:
    low = rnd.choice([None, None, 0, 2, 4])
    high = rnd.choice([None, None, 3, 6]) if low is None or low <= 3 else None
    start = rnd.choice([None, None, T0 + 10 * MIN])
    return SessionQuery(
        page_no=rnd.choice([1, 1, 2, 3, 5, 9, 14, 40, 10_000]),
        per_page=rnd.choice([1, 7, 25, 100]),
        sort_by=rnd.choice(["createdAt", "minutesConsumed"]),
        descending=rnd.random() < 0.5,
        start_time=start,
        end_time=rnd.choice([None, None, T0 + 30 * MIN]),
        status=rnd.choice([None, None, "LIVE", "ENDED"]),
        search=rnd.choice([None, None, None, "board", "strasse", "ß", "meeting-1", "0000-0", "zz"]),
        associated_id=rnd.choice([None] * 6 + ["Meeting-3"]),
        min_participants=low,
        max_participants=high,
    )


async def test_pages_and_totals_equal_a_brute_force_sort(db: Database, app_id: str) -> None:
    pk, rows = await _app(db, app_id, 400, seed=11)
    rnd = random.Random(5)
    queries = [_random_query(rnd) for _ in range(300)]
    queries += [  # far-end and boundary pages of the two sorts, unfiltered
        SessionQuery(page_no=p, per_page=per, sort_by=s, descending=d)
        for p, per in [(16, 25), (17, 25), (9, 25), (8, 25), (10, 25), (57, 7), (58, 7), (400, 1)]
        for s in ("createdAt", "minutesConsumed")
        for d in (True, False)
    ]
    for now in (T0 + 120 * MIN, T0):  # T0: before the LIVE joins, consumed is closed_ms
        async with db.read() as conn:
            for q in queries:
                got, total = await list_sessions(conn, pk, q, now)
                assert ([s.id for s in got], total) == _expected(rows, q, now), q


def _joined(peer: str, meeting: str, at: int) -> dict[str, Any]:
    return {
        "id": f"j-{peer}-{at}",
        "type": "peer.joined",
        "meeting_id": meeting,
        "peer_id": peer,
        "occurred_at": to_iso(T0 + at * 1000),
    }


def _left(peer: str, meeting: str, at: int) -> dict[str, Any]:
    return {**_joined(peer, meeting, at), "id": f"l-{peer}-{at}", "type": "peer.left"}


async def _assert_counts(db: Database, pk: int) -> None:
    async with db.read() as conn:
        counted = {
            (r.status, r.max_concurrent): r.n
            for r in await conn.execute(
                select(sessions.c.status, sessions.c.max_concurrent, func.count().label("n"))
                .where(sessions.c.app_pk == pk)
                .group_by(sessions.c.status, sessions.c.max_concurrent)
            )
        }
        kept = {
            (r.status, r.max_concurrent): r.sessions
            for r in await conn.execute(select(session_counts).where(session_counts.c.app_pk == pk))
            if r.sessions
        }
    assert kept == counted


async def test_session_counts_follow_every_writer(db: Database, app_id: str) -> None:
    async with db.write() as conn:
        pk = await ensure_app(conn, "acct-size", app_id, T0)
    app = AppRef(pk, app_id)
    batches = [
        [_joined("a", "m1", 0), _joined("b", "m1", 5), _joined("c", "m2", 1)],
        [_left("a", "m1", 60), _left("b", "m1", 61), _joined("d", "m1", 100)],
        [_joined("r", "room", 101) | {"parent_meeting_id": "m1"}, _left("c", "m2", 30)],
        [_left("d", "m1", 200), _left("r", "room", 150)],
        [_joined("e", "m3", 300), _joined("a", "m2", 0)],  # an earlier join: a moves to m2
    ]
    now = T0 + 3_600_000
    for batch in batches:
        async with db.write() as conn:
            await ingest.store(conn, app, ingest.check_batch(batch, now), now, 0)
        await _assert_counts(db, pk)
    async with db.write() as conn:  # the idle sweep closes e
        assert await ingest.sweep_meeting(conn, app, "m3", now + 2, now + 1, 0) == 1
    await _assert_counts(db, pk)
    async with db.write() as conn:
        await ingest.rebuild_app(conn, app, 0)
    await _assert_counts(db, pk)
    async with db.read() as conn:
        assert (await list_sessions(conn, pk, SessionQuery(), now))[1] == 5
    rnd = random.Random(3)
    async with db.write() as conn:  # plain statements: many rows, updates of both keys
        await conn.execute(insert(sessions), [_session(rnd, pk, 100 + i) for i in range(30)])
        await conn.execute(
            update(sessions)
            .where(sessions.c.app_pk == pk, sessions.c.id.like("%00000000010%"))
            .values(status="LIVE", max_concurrent=sessions.c.max_concurrent + 1)
        )
        await conn.execute(
            delete(sessions).where(sessions.c.app_pk == pk, sessions.c.meeting_id == "Meeting-4")
        )
    await _assert_counts(db, pk)
    async with db.write() as conn:
        await derived_repo.clear_derived(conn, pk)
    await _assert_counts(db, pk)
    async with db.read() as conn:
        assert (await list_sessions(conn, pk, SessionQuery(status="LIVE"), now))[1] == 0


@pytest.fixture
def own_url(tmp_path: Path) -> Iterator[str]:
    with own_database(tmp_path) as url:
        yield url


async def _fill_0009(url: str) -> list[dict[str, Any]]:
    db = Database(url)
    rnd = random.Random(9)
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO accounts (id, created_at) VALUES ('a', 0)"))
        for pk in (1, 2):
            await conn.execute(
                text(
                    "INSERT INTO apps (pk, account_id, app_id, created_at) VALUES (:pk, 'a', :a, 0)"
                ),
                {"pk": pk, "a": f"app{pk}"},
            )
        rows = [_session(rnd, 1 + i % 2, i) for i in range(500)]
        columns = list(rows[0])
        names, binds = ", ".join(columns), ", ".join(f":{c}" for c in columns)
        await conn.execute(text(f"INSERT INTO sessions ({names}) VALUES ({binds})"), rows)
    await db.dispose()
    return rows


async def _check_counts(url: str, rows: list[dict[str, Any]]) -> None:
    db = Database(url)
    for pk in (1, 2):
        await _assert_counts(db, pk)
        mine = [r for r in rows if r["app_pk"] == pk]
        async with db.read() as conn:
            for q in (SessionQuery(), SessionQuery(status="LIVE", min_participants=2)):
                _, total = await list_sessions(conn, pk, q, T0)
                assert total == _expected(mine, q, T0)[1]
    await db.dispose()


def test_migration_0010_backfills_counts_from_existing_rows(own_url: str) -> None:
    config = alembic_config(own_url)
    command.upgrade(config, "0009")
    rows = asyncio.run(_fill_0009(own_url))
    command.upgrade(config, "head")
    asyncio.run(_check_counts(own_url, rows))
    command.downgrade(config, "0009")
    command.upgrade(config, "head")
    asyncio.run(_check_counts(own_url, rows))


SHAPES = [
    SessionQuery(),
    SessionQuery(descending=False),
    SessionQuery(status="LIVE"),
    SessionQuery(status="ENDED"),
    SessionQuery(start_time=T0 + 5 * MIN, end_time=T0 + 9 * MIN),
    SessionQuery(associated_id="Meeting-3"),
    SessionQuery(min_participants=2, max_participants=3),
    SessionQuery(min_participants=4),
    SessionQuery(search="board review 3"),
    SessionQuery(search="xyz"),
    SessionQuery(sort_by="minutesConsumed"),
    SessionQuery(sort_by="minutesConsumed", descending=False),
    SessionQuery(sort_by="minutesConsumed", status="ENDED"),
    SessionQuery(sort_by="minutesConsumed", status="LIVE"),
    SessionQuery(sort_by="minutesConsumed", min_participants=2, max_participants=3),
    SessionQuery(status="ENDED", min_participants=2, max_participants=3),
    SessionQuery(page_no=30, per_page=10),
    SessionQuery(page_no=370, per_page=10),
    SessionQuery(page_no=370, per_page=10, sort_by="minutesConsumed"),
]
# The one walk over every session of the app a page may take: in the order it asks for.
ORDERED_WALKS = ("ix_sessions_app_pk_started_at_id (app_pk=?)",)


async def test_no_list_shape_reads_the_whole_table(db: Database, app_id: str) -> None:
    pk, rows = await _app(db, app_id, 4000, seed=2)
    if not db.is_sqlite:  # what autovacuum does after a load
        async with db.write() as conn:
            await conn.exec_driver_sql("ANALYZE sessions, peers, session_counts")
    app, now = AppRef(pk, app_id), T0 + 120 * MIN
    with recorded(db) as seen:
        async with db.read() as conn:
            for q in SHAPES:
                await list_sessions(conn, pk, q, now)
            for params in ({}, {"search": "x"}, {"sort_by": "duration"}, {"view": "consolidated"}):
                await list_participants(conn, app, rows[0]["id"], participants_request(params), now)
    assert len(seen) > 2 * len(SHAPES)
    for statement, params in seen:
        lines = await plan(db, statement, params, seq_scans=db.is_sqlite)
        wrong = [
            line
            for line in whole_reads(lines, db.dialect, by_app=db.is_sqlite)
            if not line.endswith(ORDERED_WALKS)
        ]
        assert not wrong, f"{statement}\n" + "\n".join(lines)
