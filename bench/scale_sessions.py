"""Benchmark: `GET /sessions` queries over 200,000 sessions in one app.

Inserts synthetic session rows straight into a fresh database (the query path is what is
measured, not ingestion), then times the list query behind `GET /sessions` for a plain page,
a substring search (FTS5 trigram on SQLite, pg_trgm on PostgreSQL), a 3-character search,
sorting by minutes and a participants range. Medians of 5.

    .venv/bin/python bench/scale_sessions.py sqlite+aiosqlite:////tmp/scale/x.db
    .venv/bin/python bench/scale_sessions.py postgresql+asyncpg://postgres@127.0.0.1:5432/rtk_scale
"""

import asyncio
import random
import statistics
import sys
import time
import uuid

from sqlalchemy import insert

from rtk_sessions.kit.db import Database
from rtk_sessions.kit.migrate import upgrade_async
from rtk_sessions.kit.tables import accounts, apps, sessions
from rtk_sessions.sessions.folding import fold
from rtk_sessions.sessions.repo import SessionQuery, list_sessions

url = sys.argv[1]
N = 200_000


async def main():
    await upgrade_async(url)
    db = Database(url)
    words = [
        "Weekly sync",
        "Design review",
        "Customer onboarding",
        "Standup",
        "Board review",
        "All hands",
        "Retro",
        "1:1",
    ]
    async with db.write() as c:
        await c.execute(insert(accounts).values(id="s", created_at=0))
        pk = (
            await c.execute(
                insert(apps).values(account_id="s", app_id="s", created_at=0).returning(apps.c.pk)
            )
        ).scalar_one()
        rows = []
        for i in range(N):
            t = 1_700_000_000_000 + i * 60_000
            title, meeting_id = f"{random.choice(words)} {i}", str(uuid.uuid4())
            rows.append(
                dict(
                    app_pk=pk,
                    id=str(uuid.uuid4()),
                    meeting_id=meeting_id,
                    parent_session_id=None,
                    title=title,
                    title_folded=fold(title),
                    meeting_id_folded=fold(meeting_id),
                    type="meeting",
                    meta=None,
                    status="ENDED",
                    started_at=t,
                    ended_at=t + 1800000,
                    own_ended_at=t + 1800000,
                    max_concurrent=random.randint(1, 40),
                    open_count=0,
                    closed_ms=random.randint(0, 10**7),
                    open_join_sum_ms=0,
                    own_updated_at=t,
                    updated_at=t,
                )
            )
        for k in range(0, N, 5000):
            await c.execute(insert(sessions), rows[k : k + 5000])
    await timings(db, pk)
    if db.dialect == "postgresql":  # as autovacuum would, a little later
        async with db.write() as c:
            await c.exec_driver_sql("ANALYZE sessions")
        print("after ANALYZE:")
        await timings(db, pk)
    await db.dispose()


async def timings(db: Database, pk: int) -> None:
    for label, q in [
        ("page", SessionQuery()),
        ("search", SessionQuery(search="board review 1999")),
        ("search short", SessionQuery(search="xyz")),
        ("sort minutes", SessionQuery(sort_by="minutesConsumed")),
        ("participants 3:5", SessionQuery(min_participants=3, max_participants=5)),
    ]:
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            async with db.read() as c:
                await list_sessions(c, pk, q, 1_800_000_000_000)
            ts.append(time.perf_counter() - t0)
        print(f"{label}: {statistics.median(ts) * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
