"""Every SQL statement about transcript segments (stored as `transcript.segment` events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.tables import events, peers
from rtk_sessions.kit.timeutil import stored_time_ms

SEGMENT = "transcript.segment"


@dataclass(frozen=True)
class SegmentRow:
    """A final segment with what is known about its speaker."""

    event_id: str
    peer_id: str
    text: str
    started_at: int
    ended_at: int | None
    user_id: str | None
    custom_participant_id: str | None
    display_name: str | None
    joined_at: int | None
    left_at: int | None


def _segment(row: Any, body: dict[str, Any], ended_at: int | None) -> SegmentRow:
    return SegmentRow(
        row.id,
        row.peer_id,
        body["text"],
        row.place_at,
        ended_at,
        row.user_id,
        row.custom_participant_id,
        row.display_name,
        row.joined_at,
        row.left_at,
    )


async def final_segments(conn: AsyncConnection, app_pk: int, session_id: str) -> list[SegmentRow]:
    """The session's final (not partial) segments by start time, ties by event id."""
    e, p = events.c, peers.c
    rows = await conn.execute(
        select(
            e.id, e.peer_id, e.place_at, e.body,
            p.user_id, p.custom_participant_id, p.display_name, p.joined_at, p.left_at,
        )
        .select_from(events.outerjoin(peers, and_(p.app_pk == e.app_pk, p.id == e.peer_id)))
        .where(e.app_pk == app_pk, e.session_id == session_id, e.type == SEGMENT)
        .order_by(e.place_at, e.id)
    )  # fmt: skip
    found = []
    for row in rows:
        body = msgspec.json.decode(row.body)
        if body.get("is_partial"):
            continue
        ended = body.get("ended_at")
        found.append(_segment(row, body, None if ended is None else stored_time_ms(ended)))
    return found
