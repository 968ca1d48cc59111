"""Every SQL statement of the webhooks: deliveries taken in, and RealtimeKit file downloads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.rows import from_row
from rtk_sessions.kit.tables import realtimekit_downloads, webhook_deliveries

PENDING, DONE, FAILED = "PENDING", "DONE", "FAILED"


@dataclass(frozen=True)
class DownloadRow:
    app_pk: int
    session_id: str
    kind: str
    meeting_id: str
    url: str
    session_started_at: int | None
    status: str
    attempts: int
    requested_at: int
    next_attempt_at: int
    enqueued_at: int | None
    run_started_at: int | None
    error: str | None
    updated_at: int


async def seen_delivery(
    conn: AsyncConnection, app_pk: int, provider: str, keys: Sequence[str]
) -> bool:
    c = webhook_deliveries.c
    found = await conn.execute(
        select(c.delivery)
        .where(c.app_pk == app_pk, c.provider == provider, c.delivery.in_(keys))
        .limit(1)
    )
    return found.first() is not None


async def record_delivery(
    conn: AsyncConnection, app_pk: int, provider: str, keys: Sequence[str], now: int
) -> None:
    """Remember a delivery by each of its keys (a concurrent twin's keys are kept as they are)."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(
        dialect_insert(webhook_deliveries).on_conflict_do_nothing(),
        [{"app_pk": app_pk, "provider": provider, "delivery": k, "received_at": now} for k in keys],
    )


async def forget_deliveries(conn: AsyncConnection, received_before: int) -> int:
    done = await conn.execute(
        delete(webhook_deliveries).where(webhook_deliveries.c.received_at < received_before)
    )
    return int(done.rowcount or 0)


def _this(app_pk: int, session_id: str, kind: str) -> list[Any]:
    c = realtimekit_downloads.c
    return [c.app_pk == app_pk, c.session_id == session_id, c.kind == kind]


async def request_download(
    conn: AsyncConnection,
    app_pk: int,
    session_id: str,
    kind: str,
    meeting_id: str,
    url: str,
    session_started_at: int | None,
    now: int,
) -> None:
    """Write the intent: PENDING with this link and no tries yet (a newer link replaces an
    older one, whatever became of it)."""
    values = {
        "meeting_id": meeting_id,
        "url": url,
        "session_started_at": session_started_at,
        "status": PENDING,
        "attempts": 0,
        "requested_at": now,
        "next_attempt_at": now,
        "enqueued_at": None,
        "run_started_at": None,
        "error": None,
        "updated_at": now,
    }
    changed = await conn.execute(
        update(realtimekit_downloads).where(*_this(app_pk, session_id, kind)).values(**values)
    )
    if changed.rowcount == 0:
        await conn.execute(
            insert(realtimekit_downloads).values(
                app_pk=app_pk, session_id=session_id, kind=kind, **values
            )
        )


async def get_download(
    conn: AsyncConnection, app_pk: int, session_id: str, kind: str
) -> DownloadRow | None:
    row = (
        await conn.execute(select(realtimekit_downloads).where(*_this(app_pk, session_id, kind)))
    ).first()
    return None if row is None else from_row(DownloadRow, row)


async def mark_download(
    conn: AsyncConnection, app_pk: int, session_id: str, kind: str, requested_at: int,
    **values: object,
) -> bool:  # fmt: skip
    """Update one request (`requested_at`); False when a newer delivery replaced it."""
    c = realtimekit_downloads.c
    changed = await conn.execute(
        update(realtimekit_downloads)
        .where(*_this(app_pk, session_id, kind), c.requested_at == requested_at)
        .values(**values)
    )
    return bool(changed.rowcount)


async def downloads_without_job(
    conn: AsyncConnection, now: int, enqueued_before: int, started_before: int
) -> list[DownloadRow]:
    """PENDING downloads due now that were never enqueued, waited since `enqueued_before`
    without starting, or started before `started_before` (their worker is presumed dead)."""
    c = realtimekit_downloads.c
    rows = await conn.execute(
        select(realtimekit_downloads).where(
            c.status == PENDING,
            c.next_attempt_at <= now,
            or_(
                c.enqueued_at.is_(None),
                and_(c.run_started_at.is_(None), c.enqueued_at < enqueued_before),
                c.run_started_at < started_before,
            ),
        )
    )
    return [from_row(DownloadRow, r) for r in rows]


async def downloads_of_app(conn: AsyncConnection, app_pk: int) -> list[DownloadRow]:
    c = realtimekit_downloads.c
    rows = await conn.execute(
        select(realtimekit_downloads).where(c.app_pk == app_pk).order_by(c.session_id, c.kind)
    )
    return [from_row(DownloadRow, r) for r in rows]
