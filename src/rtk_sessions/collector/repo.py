"""Every SQL statement about live rtcstats: per-app stream-token secrets and stream rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.tables import apps, rtcstats_secrets, rtcstats_streams


@dataclass(frozen=True)
class StreamRow:
    id: str
    app_pk: int
    family: str
    client_session: str | None
    meeting_id: str | None
    peer_id: str | None
    user_label: str | None
    chunks: int
    bytes: int
    lines: int
    last_seq: int | None
    events: int
    started_at: int
    last_flush_at: int
    ended_at: int | None
    close_code: int | None


_COLUMNS = [rtcstats_streams.c[name] for name in StreamRow.__dataclass_fields__]


async def secret_of_app(conn: AsyncConnection, account_id: str, app_id: str) -> str | None:
    query = (
        select(rtcstats_secrets.c.secret)
        .join(apps, apps.c.pk == rtcstats_secrets.c.app_pk)
        .where(apps.c.account_id == account_id, apps.c.app_id == app_id)
    )
    return (await conn.execute(query)).scalar()


async def secret_of_pk(conn: AsyncConnection, app_pk: int) -> str | None:
    query = select(rtcstats_secrets.c.secret).where(rtcstats_secrets.c.app_pk == app_pk)
    return (await conn.execute(query)).scalar()


async def replace_secret(conn: AsyncConnection, app_pk: int, secret: str, now: int) -> None:
    await conn.execute(delete(rtcstats_secrets).where(rtcstats_secrets.c.app_pk == app_pk))
    await conn.execute(
        insert(rtcstats_secrets).values(app_pk=app_pk, secret=secret, created_at=now)
    )


async def insert_stream(conn: AsyncConnection, row: StreamRow) -> None:
    await conn.execute(insert(rtcstats_streams).values(**row.__dict__))


async def stream_of_session(
    conn: AsyncConnection, app_pk: int, client_session: str
) -> StreamRow | None:
    c = rtcstats_streams.c
    query = select(*_COLUMNS).where(c.app_pk == app_pk, c.client_session == client_session)
    row = (await conn.execute(query)).first()
    return StreamRow(*row) if row else None


async def get_stream(conn: AsyncConnection, app_pk: int, stream_id: str) -> StreamRow | None:
    c = rtcstats_streams.c
    row = (
        await conn.execute(select(*_COLUMNS).where(c.app_pk == app_pk, c.id == stream_id))
    ).first()
    return StreamRow(*row) if row else None


async def update_stream(conn: AsyncConnection, stream_id: str, **values: Any) -> None:
    await conn.execute(
        update(rtcstats_streams).where(rtcstats_streams.c.id == stream_id).values(**values)
    )


async def list_streams(
    conn: AsyncConnection,
    app_pk: int,
    *,
    peer_id: str | None,
    meeting_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[StreamRow], int]:
    c = rtcstats_streams.c
    where = [c.app_pk == app_pk]
    if peer_id is not None:
        where.append(c.peer_id == peer_id)
    if meeting_id is not None:
        where.append(c.meeting_id == meeting_id)
    query = select(*_COLUMNS).where(*where).order_by(c.started_at, c.id).limit(limit).offset(offset)
    rows = [StreamRow(*r) for r in await conn.execute(query)]
    total = (
        await conn.execute(select(func.count()).select_from(rtcstats_streams).where(*where))
    ).scalar()
    return rows, int(total or 0)


async def end_abandoned(conn: AsyncConnection, flushed_before: int, now: int) -> int:
    """Mark ended the open streams nobody flushed since `flushed_before` (their process
    died); returns how many."""
    c = rtcstats_streams.c
    result = await conn.execute(
        update(rtcstats_streams)
        .where(c.ended_at.is_(None), c.last_flush_at < flushed_before)
        .values(ended_at=now, close_code=1006)
    )
    return int(result.rowcount or 0)
