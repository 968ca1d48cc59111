"""Every SQL statement about raw events: storing, deduplicating, placing, listing pending."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import and_, case, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.ingest.schemas import (
    LIFECYCLE_TYPES,
    NEVER_PENDING_TYPES,
    TIME_PLACED_TYPES,
    Placement,
    ValidEvent,
)
from rtk_sessions.kit.rows import from_row
from rtk_sessions.kit.tables import events, meetings, peers

_CHUNK = 500  # stays far below SQLite's bound-parameter limit


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def lock_app(conn: AsyncConnection, app_pk: int) -> None:
    """Serialize derivation per app on PostgreSQL (SQLite already has a single writer)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 7_000_000 + app_pk})


def _row(app_pk: int, event: ValidEvent, now: int, inferred: bool) -> dict[str, Any]:
    return {
        "app_pk": app_pk,
        "id": event.id,
        "type": event.type,
        "meeting_id": event.meeting_id,
        "peer_id": event.peer_id,
        "occurred_at": event.occurred_at,
        "place_at": event.place_at,
        "received_at": now,
        "inferred": inferred,
        "session_id": None,
        "placement": Placement.MEETING_LEVEL
        if event.type in NEVER_PENDING_TYPES
        else Placement.PENDING,
        "body": msgspec.json.encode(event.raw).decode(),
    }


def _insert_ignoring_duplicates(conn: AsyncConnection) -> Any:
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return dialect_insert(events).on_conflict_do_nothing(index_elements=["app_pk", "id"])


async def insert_new_events(
    conn: AsyncConnection,
    app_pk: int,
    batch: Sequence[ValidEvent],
    now: int,
    inferred: bool = False,
) -> set[str]:
    """Insert the events whose id this app has not stored yet; returns the ids inserted.

    One round trip per chunk, and correct even if two writers race on the same id.
    """
    inserted: set[str] = set()
    for chunk in _chunks(batch):
        rows = [_row(app_pk, e, now, inferred) for e in chunk]
        result = await conn.execute(_insert_ignoring_duplicates(conn).returning(events.c.id), rows)
        inserted.update(result.scalars())
    return inserted


async def touch_meetings(
    conn: AsyncConnection, app_pk: int, meeting_ids: Iterable[str], now: int
) -> None:
    """Record that these meetings just received events (the idle sweep's clock)."""
    for meeting_id in sorted(set(meeting_ids)):
        updated = await conn.execute(
            update(meetings)
            .where(meetings.c.app_pk == app_pk, meetings.c.id == meeting_id)
            .values(last_received_at=now)
        )
        if not updated.rowcount:
            await conn.execute(
                insert(meetings).values(app_pk=app_pk, id=meeting_id, last_received_at=now)
            )


async def join_meetings_of_peers(
    conn: AsyncConnection, app_pk: int, peer_ids: Sequence[str]
) -> set[str]:
    """Meetings in which any of these peers has a `peer.joined`."""
    found: set[str] = set()
    for chunk in _chunks(peer_ids):
        rows = await conn.execute(
            select(events.c.meeting_id)
            .where(
                events.c.app_pk == app_pk,
                events.c.type == "peer.joined",
                events.c.peer_id.in_(chunk),
            )
            .distinct()
        )
        found.update(r.meeting_id for r in rows)
    return found


@dataclass(frozen=True)
class StoredEvent:
    id: str
    type: str
    meeting_id: str
    peer_id: str | None
    occurred_at: int
    place_at: int
    received_at: int
    inferred: bool
    body: dict[str, Any]


def _stored(row: Any) -> StoredEvent:
    return from_row(
        StoredEvent, row, inferred=bool(row.inferred), body=msgspec.json.decode(row.body)
    )


async def lifecycle_events(
    conn: AsyncConnection, app_pk: int, meeting_id: str
) -> list[StoredEvent]:
    """The meeting's own lifecycle events plus every join and leave of peers that joined it.

    Two index-friendly queries rather than one with OR, which PostgreSQL would answer with a
    scan of the whole events table.
    """
    own = select(events).where(
        events.c.app_pk == app_pk,
        events.c.meeting_id == meeting_id,
        events.c.type.in_(LIFECYCLE_TYPES),
    )
    peer_ids = (
        select(events.c.peer_id)
        .where(
            events.c.app_pk == app_pk,
            events.c.meeting_id == meeting_id,
            events.c.type == "peer.joined",
        )
        .scalar_subquery()
    )
    of_peers = select(events).where(
        events.c.app_pk == app_pk,
        events.c.type.in_(("peer.joined", "peer.left")),
        events.c.peer_id.in_(peer_ids),
    )
    found: dict[str, StoredEvent] = {}
    for query in (own, of_peers):
        for row in await conn.execute(query):
            found.setdefault(row.id, _stored(row))
    return list(found.values())


async def sessions_of_peers(
    conn: AsyncConnection, app_pk: int, peer_ids: Sequence[str]
) -> dict[str, str]:
    """The session of each known peer (unknown peers are absent)."""
    found: dict[str, str] = {}
    for chunk in _chunks(peer_ids):
        rows = await conn.execute(
            select(peers.c.id, peers.c.session_id).where(
                peers.c.app_pk == app_pk, peers.c.id.in_(chunk)
            )
        )
        found.update({r.id: r.session_id for r in rows})
    return found


async def place_by_peer(
    conn: AsyncConnection, app_pk: int, peer_ids: Sequence[str], everything: bool
) -> None:
    """Give events of these peers their peer's session, or make them pending.

    With `everything` False only events not yet placed by peer are touched: enough when no
    known peer changed session. The session is a literal per group of peers rather than a
    correlated subquery, which PostgreSQL plans badly on freshly loaded tables.
    """
    known = await sessions_of_peers(conn, app_pk, peer_ids)
    groups: dict[str | None, list[str]] = {}
    for peer in peer_ids:
        groups.setdefault(known.get(peer), []).append(peer)
    for session_id, members in groups.items():
        placement = Placement.PENDING if session_id is None else Placement.BY_PEER
        for chunk in _chunks(members):
            where = [
                events.c.app_pk == app_pk,
                events.c.peer_id.in_(chunk),
                # Rewrite only rows whose placement really changes: cheap on PostgreSQL's MVCC.
                events.c.session_id.is_distinct_from(session_id)
                | (events.c.placement != placement),
            ]
            if session_id is None:
                # A peer that is unknown (again) only un-places what its peer had placed;
                # events placed by time stay until time placement decides again.
                where.append(events.c.placement == Placement.BY_PEER)
            elif not everything:
                where.append(events.c.placement != Placement.BY_PEER)
            await conn.execute(
                update(events).where(*where).values(session_id=session_id, placement=placement)
            )


async def time_placeable(
    conn: AsyncConnection, app_pk: int, meeting_id: str
) -> list[tuple[str, int]]:
    """(id, place_at) of the meeting's chat and segments whose speaker is not a known peer."""
    rows = await conn.execute(
        select(events.c.id, events.c.place_at).where(
            events.c.app_pk == app_pk,
            events.c.meeting_id == meeting_id,
            events.c.type.in_(TIME_PLACED_TYPES),
            events.c.placement.in_((Placement.PENDING, Placement.BY_TIME)),
        )
    )
    return [(r.id, r.place_at) for r in rows]


async def set_time_placements(
    conn: AsyncConnection, app_pk: int, placements: Sequence[tuple[str, str | None]]
) -> None:
    """Place events by time: one statement per target session, touching only rows that move."""
    by_session: dict[str | None, list[str]] = {}
    for event_id, session_id in placements:
        by_session.setdefault(session_id, []).append(event_id)
    for session_id, event_ids in by_session.items():
        placement = Placement.PENDING if session_id is None else Placement.BY_TIME
        for chunk in _chunks(event_ids):
            await conn.execute(
                update(events)
                .where(
                    events.c.app_pk == app_pk,
                    events.c.id.in_(chunk),
                    events.c.session_id.is_distinct_from(session_id)
                    | (events.c.placement != placement),
                )
                .values(session_id=session_id, placement=placement)
            )


async def count_pending(conn: AsyncConnection, app_pk: int) -> int:
    query = select(func.count()).where(
        events.c.app_pk == app_pk, events.c.placement == Placement.PENDING
    )
    return int((await conn.execute(query)).scalar_one())


async def count_all_pending(conn: AsyncConnection) -> int:
    """Events of every app waiting for a session (the /metrics gauge)."""
    query = select(func.count()).where(events.c.placement == Placement.PENDING)
    return int((await conn.execute(query)).scalar_one())


async def pending_events(
    conn: AsyncConnection, app_pk: int, limit: int, offset: int
) -> list[StoredEvent]:
    rows = await conn.execute(
        select(events)
        .where(events.c.app_pk == app_pk, events.c.placement == Placement.PENDING)
        .order_by(events.c.received_at, events.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [_stored(r) for r in rows]


async def last_event_at_of_peers(
    conn: AsyncConnection, app_pk: int, peer_ids: Sequence[str]
) -> dict[str, int]:
    """Each peer's latest `occurred_at` over events of any type."""
    found: dict[str, int] = {}
    for chunk in _chunks(peer_ids):
        rows = await conn.execute(
            select(events.c.peer_id, func.max(events.c.occurred_at).label("last"))
            .where(events.c.app_pk == app_pk, events.c.peer_id.in_(chunk))
            .group_by(events.c.peer_id)
        )
        found.update({r.peer_id: int(r.last) for r in rows})
    return found


async def idle_meetings(conn: AsyncConnection, cutoff: int) -> list[tuple[int, str]]:
    """(app key, meeting id) of meetings with an open peer and no event received since cutoff."""
    rows = await conn.execute(
        select(meetings.c.app_pk, meetings.c.id)
        .where(
            meetings.c.last_received_at < cutoff,
            select(peers.c.id)
            .where(
                and_(peers.c.app_pk == meetings.c.app_pk, peers.c.meeting_id == meetings.c.id),
                peers.c.left_at.is_(None),
            )
            .exists(),
        )
        .order_by(meetings.c.app_pk, meetings.c.id)
    )
    return [(r.app_pk, r.id) for r in rows]


async def meeting_idle_since(
    conn: AsyncConnection, app_pk: int, meeting_id: str, cutoff: int
) -> bool:
    last = (
        await conn.execute(
            select(meetings.c.last_received_at).where(
                meetings.c.app_pk == app_pk, meetings.c.id == meeting_id
            )
        )
    ).scalar()
    return last is not None and last < cutoff


async def all_meetings(conn: AsyncConnection, app_pk: int) -> list[str]:
    rows = await conn.execute(
        select(events.c.meeting_id)
        .where(events.c.app_pk == app_pk)
        .distinct()
        .order_by(events.c.meeting_id)
    )
    return [r.meeting_id for r in rows]


async def reset_placements(conn: AsyncConnection, app_pk: int) -> None:
    """Forget every placement (for `rebuild`); meeting-level events stay never-pending."""
    await conn.execute(
        update(events)
        .where(events.c.app_pk == app_pk)
        .values(
            session_id=None,
            placement=case(
                (events.c.type.in_(NEVER_PENDING_TYPES), Placement.MEETING_LEVEL),
                else_=Placement.PENDING,
            ),
        )
    )
