"""Daywise analytics equal a brute-force sum over the participants' intervals: on generated
meetings crossing midnight (delivered in random batches, with late events that merge
sessions, duplicates and open intervals, then rebuilt) and on the demo data."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from rtk_sessions.auth.repo import ensure_app
from rtk_sessions.demo.events import generate_demo_events
from rtk_sessions.ingest import service as ingest
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.migrate import alembic_config
from rtk_sessions.kit.tables import peers, sessions, usage_days
from rtk_sessions.sessions.usage import DAY_MS, split_by_day
from rtk_sessions.sessions.usage_service import daywise_usage
from support import own_database

T0 = 1_767_648_600_000  # 2026-01-05T21:30:00.000Z: meetings run across midnight
GRID = 30 * 60_000
NOW = T0 + 30 * 3_600_000  # the next day but one, 03:30
Event = dict[str, Any]


async def new_app(db: Database) -> AppRef:
    app_id = f"app-{uuid.uuid4().hex[:12]}"
    async with db.write() as conn:
        pk = await ensure_app(conn, "acct-usage", app_id, NOW)
    return AppRef(pk, app_id)


async def deliver(db: Database, app: AppRef, batches: list[list[Event]], now: int) -> None:
    for batch in batches:
        valid = ingest.check_batch(batch, now)
        async with db.write() as conn:
            await ingest.store(conn, app, valid, now, 0)


async def brute_force(db: Database, app: AppRef, first: int, last: int, now: int) -> list[Any]:
    """Per day: sessions started, and every participant's interval cut at midnight."""
    days = {d: [0, 0] for d in range(first, last + 1)}
    async with db.read() as conn:
        for (started,) in await conn.execute(
            select(sessions.c.started_at).where(sessions.c.app_pk == app.pk)
        ):
            if started // DAY_MS in days:
                days[started // DAY_MS][0] += 1
        for joined, left in await conn.execute(
            select(peers.c.joined_at, peers.c.left_at).where(peers.c.app_pk == app.pk)
        ):
            for day, ms in split_by_day(joined, now if left is None else left):
                if day in days:
                    days[day][1] += ms
    return [(d, n, ms) for d, (n, ms) in days.items()]


async def served(db: Database, app: AppRef, first: int, last: int, now: int) -> list[Any]:
    async with db.read() as conn:
        found = await daywise_usage(conn, app, first, last, now)
    return [(d.day, d.sessions, d.ms) for d in found]


@st.composite
def meetings_across_midnight(draw: st.DrawFn) -> list[list[Event]]:
    events: list[Event] = []
    slot = st.integers(0, 8)  # 21:30 to 01:30
    for i in range(draw(st.integers(2, 8))):
        meeting = draw(st.sampled_from(["m0", "m0", "m1", "m2"]))
        joined = draw(slot)
        at = lambda s: T0 + s * GRID  # noqa: E731
        events.append({"id": f"j{i}", "type": "peer.joined", "meeting_id": meeting,
                       "occurred_at": at(joined), "peer_id": f"p{i}"})  # fmt: skip
        if draw(st.integers(0, 3)):  # some never leave: LIVE, counted up to now
            left = joined + draw(st.integers(0, 40))
            events.append({"id": f"l{i}", "type": "peer.left", "meeting_id": meeting,
                           "occurred_at": at(left), "peer_id": f"p{i}"})  # fmt: skip
    events += [dict(e) for e in draw(st.lists(st.sampled_from(events), max_size=3))]
    shuffled = draw(st.permutations(events))
    cuts = draw(st.lists(st.booleans(), min_size=len(shuffled), max_size=len(shuffled)))
    batches: list[list[Event]] = [[]]
    for item, cut in zip(shuffled, cuts, strict=True):
        if cut and batches[-1]:
            batches.append([])
        batches[-1].append(item)
    return batches


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=meetings_across_midnight())
async def test_daywise_equals_the_participants_intervals(
    db: Database, batches: list[list[Event]]
) -> None:
    app = await new_app(db)
    await deliver(db, app, batches, NOW)
    first, last = T0 // DAY_MS - 1, NOW // DAY_MS + 1
    expected = await brute_force(db, app, first, last, NOW)
    assert await served(db, app, first, last, NOW) == expected
    later = NOW + 3_600_000  # open intervals keep counting
    assert await served(db, app, first, last, later) == await brute_force(
        db, app, first, last, later
    )
    async with db.write() as conn:
        await ingest.rebuild_app(conn, app, 0)
    assert await served(db, app, first, last, NOW) == expected, "rebuilt"


async def test_daywise_equals_the_participants_intervals_on_the_demo_data(db: Database) -> None:
    now = 1_767_657_600_000 + 11 * 3_600_000  # 2026-01-06T11:00:00Z
    events = generate_demo_events(now, seed=7, sessions=60)
    app = await new_app(db)
    await deliver(db, app, [events[i : i + 2000] for i in range(0, len(events), 2000)], now)
    first, last = now // DAY_MS - 45, now // DAY_MS
    expected = await brute_force(db, app, first, last, now)
    assert sum(n for _, n, _ in expected) >= 60 and sum(ms for *_, ms in expected) > 0
    assert await served(db, app, first, last, now) == expected


@pytest.fixture
def own_url(tmp_path: Path) -> Iterator[str]:
    with own_database(tmp_path) as url:
        yield url


async def _load_and_read(url: str) -> tuple[AppRef, list[Any]]:
    db = Database(url)
    app = await new_app(db)
    now = 1_767_657_600_000 + 11 * 3_600_000
    events = generate_demo_events(now, seed=3, sessions=20)
    await deliver(db, app, [events], now)
    async with db.read() as conn:
        rows = await conn.execute(select(usage_days).order_by(usage_days.c.day))
        kept = [tuple(r) for r in rows]
    await db.dispose()
    return app, kept


async def _usage_rows(url: str) -> list[Any]:
    db = Database(url)
    async with db.read() as conn:
        kept = [tuple(r) for r in await conn.execute(select(usage_days).order_by(usage_days.c.day))]
    await db.dispose()
    return kept


def test_migration_0013_backfills_the_sums_from_what_is_derived(own_url: str) -> None:
    """The sums kept while ingesting are exactly what the migration computes afresh."""
    config = alembic_config(own_url)
    command.upgrade(config, "head")
    _, kept = asyncio.run(_load_and_read(own_url))
    assert kept and any(ms for *_, ms in kept)
    command.downgrade(config, "0012")
    command.upgrade(config, "head")
    assert asyncio.run(_usage_rows(own_url)) == kept
