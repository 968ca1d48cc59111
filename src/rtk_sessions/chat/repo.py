"""Every SQL statement about chat messages (stored as `chat.message` events)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from sqlalchemy import and_, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.tables import events, peers

CHAT = "chat.message"


def event_field(dialect: str, name: str) -> Any:
    """A top-level field of the stored event body, as text, in this dialect's JSON syntax."""
    if dialect == "postgresql":
        return cast(events.c.body, JSONB).op("->>")(name)
    return func.json_extract(events.c.body, f"$.{name}")


async def chat_state(conn: AsyncConnection, app_pk: int, session_id: str) -> tuple[int, ...]:
    """Figures that change whenever the session's chat export would: (messages' events,
    latest arrival, sum of their times, senders known by name). (0, ...) = no chat."""
    e = events.c
    row = (
        await conn.execute(
            select(
                func.count(),
                func.coalesce(func.max(e.received_at), 0),
                func.coalesce(func.sum(e.occurred_at), 0),
                func.count(peers.c.display_name),
            )
            .select_from(
                events.outerjoin(peers, and_(peers.c.app_pk == e.app_pk, peers.c.id == e.peer_id))
            )
            .where(e.app_pk == app_pk, e.session_id == session_id, e.type == CHAT)
        )
    ).one()
    return tuple(int(v) for v in row)


async def stream_messages(
    conn: AsyncConnection, dialect: str, app_pk: int, session_id: str, batch: int = 2000
) -> AsyncGenerator[list[Any], None]:
    """The session's messages in send order, one row per message id, in batches.

    Per message id the earliest event gives the sender and `created_at`, the latest gives the
    body (payload, pinned, edited), as docs/events.md says. The database sorts, so memory
    stays flat however long the chat is.
    """
    e = events.c
    message_id = event_field(dialect, "message_id")
    first = {"partition_by": message_id, "order_by": (e.occurred_at, e.id)}
    versions = (
        select(
            message_id.label("message_id"),
            e.body,
            func.first_value(e.occurred_at).over(**first).label("created_at"),
            func.first_value(e.peer_id).over(**first).label("sender"),
            func.row_number()
            .over(partition_by=message_id, order_by=(e.occurred_at.desc(), e.id.desc()))
            .label("newest"),
        )
        .where(e.app_pk == app_pk, e.session_id == session_id, e.type == CHAT)
        .subquery()
    )
    v = versions.c
    stmt = (
        select(v.message_id, v.sender, v.created_at, v.body, peers.c.display_name)
        .select_from(
            versions.outerjoin(peers, and_(peers.c.app_pk == app_pk, peers.c.id == v.sender))
        )
        .where(v.newest == 1)
        .order_by(v.created_at, v.message_id)
    )
    result = await conn.stream(stmt.execution_options(yield_per=batch))
    async for part in result.partitions(batch):
        yield list(part)
