"""Every SQL statement about summary requests and finished summaries."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.rows import chunks, from_row
from rtk_sessions.kit.tables import events, sessions, summaries
from rtk_sessions.transcripts.repo import SEGMENT

PROCESSING, COMPLETED, FAILED = "PROCESSING", "COMPLETED", "FAILED"
# The requested fingerprint of a request that summarize-on-end wrote: the transcript was not
# read then (that is the job's work), so it never equals a real one.
ON_END = "on-end"

# The stored reason of a failed summary is served to clients by GET summary, so it names the
# failure's class only; the details went to the log (docs/security.md).
INTERNAL_REASON = "internal error; the server log has the details"
_MAX_REASON = 300


def public_reason(exc: Exception) -> str:
    """The reason to store for a failure whose message is ours and fit for clients."""
    message = getattr(exc, "message", None) or str(exc)
    return message if len(message) <= _MAX_REASON else message[: _MAX_REASON - 1] + "…"


@dataclass(frozen=True)
class SummaryRow:
    app_pk: int
    session_id: str
    status: str
    requested_fingerprint: str
    requested_at: int
    enqueued_at: int | None
    started_at: int | None
    error: str | None
    ready_key: str | None
    ready_fingerprint: str | None
    ready_at: int | None


def _this(app_pk: int, session_id: str) -> list[ColumnElement[bool]]:
    return [summaries.c.app_pk == app_pk, summaries.c.session_id == session_id]


async def get(conn: AsyncConnection, app_pk: int, session_id: str) -> SummaryRow | None:
    row = (await conn.execute(select(summaries).where(*_this(app_pk, session_id)))).first()
    return None if row is None else from_row(SummaryRow, row)


async def request(
    conn: AsyncConnection, app_pk: int, session_id: str, fingerprint: str, now: int
) -> None:
    """Write the intent: PROCESSING for this transcript; a finished summary stays readable."""
    values = {
        "status": PROCESSING,
        "requested_fingerprint": fingerprint,
        "requested_at": now,
        "enqueued_at": None,
        "started_at": None,
        "error": None,
        "updated_at": now,
    }
    changed = await conn.execute(
        update(summaries).where(*_this(app_pk, session_id)).values(**values)
    )
    if changed.rowcount == 0:
        await conn.execute(insert(summaries).values(app_pk=app_pk, session_id=session_id, **values))


async def mark(
    conn: AsyncConnection, app_pk: int, session_id: str, requested_at: int, **values: object
) -> bool:
    """Update the intent of one request (`requested_at`); False if a newer request replaced it."""
    changed = await conn.execute(
        update(summaries)
        .where(*_this(app_pk, session_id), summaries.c.requested_at == requested_at)
        .values(**values)
    )
    return bool(changed.rowcount)


async def store_ready(
    conn: AsyncConnection, app_pk: int, session_id: str, key: str, fingerprint: str, now: int
) -> None:
    await conn.execute(
        update(summaries)
        .where(*_this(app_pk, session_id))
        .values(ready_key=key, ready_fingerprint=fingerprint, ready_at=now, updated_at=now)
    )


async def intents_without_job(
    conn: AsyncConnection, enqueued_before: int, started_before: int
) -> list[SummaryRow]:
    """PROCESSING requests never enqueued, enqueued before `enqueued_before` and not started,
    or started before `started_before` (their worker is presumed dead)."""
    c = summaries.c
    rows = await conn.execute(
        select(summaries).where(
            c.status == PROCESSING,
            or_(
                c.enqueued_at.is_(None),
                and_(c.started_at.is_(None), c.enqueued_at < enqueued_before),
                c.started_at < started_before,
            ),
        )
    )
    return [from_row(SummaryRow, r) for r in rows]


async def ended_with_segments(
    conn: AsyncConnection, app_pk: int, session_ids: Collection[str], segment_ids: Collection[str]
) -> set[str]:
    """The ENDED sessions among these that have transcript segments, and the ENDED sessions
    these segments were placed in."""
    s, e = sessions.c, events.c
    owed: set[str] = set()
    has_segment = (
        select(literal(1))
        .where(e.app_pk == s.app_pk, e.session_id == s.id, e.type == SEGMENT)
        .exists()
    )
    for ids in chunks(sorted(session_ids)):
        ended = await conn.scalars(
            select(s.id).where(s.app_pk == app_pk, s.id.in_(ids), s.status == "ENDED", has_segment)
        )
        owed.update(ended)
    for ids in chunks(sorted(segment_ids)):
        placed = await conn.scalars(
            select(s.id)
            .select_from(events.join(sessions, and_(s.app_pk == e.app_pk, s.id == e.session_id)))
            .where(e.app_pk == app_pk, e.id.in_(ids), s.status == "ENDED")
            .distinct()
        )
        owed.update(placed)
    return owed


async def unenqueued(conn: AsyncConnection, requested_before: int) -> list[SummaryRow]:
    """PROCESSING requests written before `requested_before` and never handed to the queue."""
    c = summaries.c
    rows = await conn.execute(
        select(summaries).where(
            c.status == PROCESSING, c.enqueued_at.is_(None), c.requested_at < requested_before
        )
    )
    return [from_row(SummaryRow, r) for r in rows]


async def drop(conn: AsyncConnection, app_pk: int, session_id: str, requested_at: int) -> None:
    """Withdraw this request: the finished summary, if any, stands; else no row remains."""
    this = [*_this(app_pk, session_id), summaries.c.requested_at == requested_at]
    await conn.execute(delete(summaries).where(*this, summaries.c.ready_key.is_(None)))
    await conn.execute(update(summaries).where(*this).values(status=COMPLETED, error=None))
