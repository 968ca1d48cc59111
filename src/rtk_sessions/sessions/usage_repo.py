"""Every SQL statement of the per-day usage sums (sessions.usage)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.tables import peers, usage_days
from rtk_sessions.sessions.usage import UsageChange


async def add_usage(conn: AsyncConnection, app_pk: int, change: UsageChange) -> None:
    """Add a change to the sums: one statement with a parameter set per day touched."""
    rows = change.rows()
    if not rows:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(usage_days)
    stmt = stmt.on_conflict_do_update(
        index_elements=[usage_days.c.app_pk, usage_days.c.day],
        set_={
            "sessions": usage_days.c.sessions + stmt.excluded.sessions,
            "closed_ms": usage_days.c.closed_ms + stmt.excluded.closed_ms,
        },
    )
    await conn.execute(
        stmt,
        [{"app_pk": app_pk, "day": d, "sessions": n, "closed_ms": ms} for d, n, ms in rows],
    )


async def clear_usage(conn: AsyncConnection, app_pk: int) -> None:
    await conn.execute(delete(usage_days).where(usage_days.c.app_pk == app_pk))


async def stored_days(
    conn: AsyncConnection, app_pk: int, first: int, last: int
) -> list[tuple[int, int, int]]:
    """(day, sessions, closed ms) of the days in [first, last] that have any."""
    c = usage_days.c
    rows = await conn.execute(
        select(c.day, c.sessions, c.closed_ms).where(
            c.app_pk == app_pk, c.day >= first, c.day <= last
        )
    )
    return [(r.day, r.sessions, r.closed_ms) for r in rows]


async def open_joins(conn: AsyncConnection, app_pk: int) -> list[int]:
    """The joins of the app's peers still connected (a partial index keeps this small)."""
    rows = await conn.execute(
        select(peers.c.joined_at).where(peers.c.app_pk == app_pk, peers.c.left_at.is_(None))
    )
    return [r.joined_at for r in rows]
