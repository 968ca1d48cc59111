"""Every SQL statement about raw events: storing, deduplicating, placing, listing pending."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import JSON, String, and_, bindparam, case, cast, func, select, text, update
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
from rtk_sessions.kit.rows import by_key, chunks, from_row
from rtk_sessions.kit.tables import events, meetings, peers


async def lock_app(conn: AsyncConnection, app_pk: int) -> None:
    """Serialize derivation per app on PostgreSQL (SQLite already has a single writer)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 7_000_000 + app_pk})


def _row(
    app_pk: int, event: ValidEvent, now: int, inferred: bool, session_id: str | None
) -> dict[str, Any]:
    if event.type in NEVER_PENDING_TYPES:
        placement = Placement.MEETING_LEVEL
    else:
        placement = Placement.PENDING if session_id is None else Placement.BY_PEER
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
        "session_id": session_id,
        "placement": placement,
        "body": msgspec.json.encode(event.raw).decode(),
    }


def _dialect_insert(conn: AsyncConnection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def _insert_ignoring_duplicates(conn: AsyncConnection) -> Any:
    return _dialect_insert(conn)(events).on_conflict_do_nothing(index_elements=["app_pk", "id"])


async def insert_new_events(
    conn: AsyncConnection,
    app_pk: int,
    batch: Sequence[ValidEvent],
    now: int,
    inferred: bool = False,
) -> set[str]:
    """Insert the events whose id this app has not stored yet; returns the ids inserted.

    An event of a peer that already has a session is stored placed in it (`BY_PEER`), as
    `place_by_peer` would place it: derivation then only visits peers whose session it
    changes or creates (docs/ingestion.md, "Choices made"). The caller holds the app's lock, so
    the sessions read here are the ones derivation starts from.
    One round trip per chunk, and correct even if two writers race on the same id.
    """
    known = await sessions_of_peers(
        conn, app_pk, sorted({e.peer_id for e in batch if e.peer_id is not None})
    )
    inserted: set[str] = set()
    for chunk in chunks(batch, 500):  # rows per INSERT, far below SQLite's parameter limit
        rows = [
            _row(app_pk, e, now, inferred, known.get(e.peer_id) if e.peer_id else None)
            for e in chunk
        ]
        result = await conn.execute(_insert_ignoring_duplicates(conn).returning(events.c.id), rows)
        inserted.update(result.scalars())
    return inserted


async def touch_meetings(
    conn: AsyncConnection, app_pk: int, meeting_ids: Iterable[str], now: int
) -> None:
    """Record that these meetings just received events (the idle sweep's clock): one upsert
    per chunk of meetings."""
    for chunk in chunks(sorted(set(meeting_ids))):
        upsert = _dialect_insert(conn)(meetings).values(
            [{"app_pk": app_pk, "id": m, "last_received_at": now} for m in chunk]
        )
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=["app_pk", "id"],
                set_={"last_received_at": upsert.excluded.last_received_at},
            )
        )


async def join_meetings_of_peers(
    conn: AsyncConnection, app_pk: int, peer_ids: Sequence[str]
) -> set[str]:
    """Meetings in which any of these peers has a `peer.joined`."""
    found: set[str] = set()
    for chunk in chunks(peer_ids):
        rows = await conn.execute(
            select(events.c.meeting_id).where(
                events.c.app_pk == app_pk,
                events.c.type == "peer.joined",
                events.c.peer_id.in_(chunk),
            )
        )  # no DISTINCT: SQLite would then walk the app's meeting index in order
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


class LifecycleEvent(NamedTuple):
    """A stored lifecycle event with the body fields accounting reads, taken out of the JSON
    by the database (the body is never decoded in Python to derive). None: absent."""

    id: str
    type: str
    meeting_id: str
    peer_id: str | None
    occurred_at: int
    received_at: int
    inferred: bool
    user_id: str | None
    custom_participant_id: str | None
    display_name: str | None
    preset_name: str | None
    preset_view_type: str | None
    socket_session_id: str | None
    meeting_title: str | None
    parent_meeting_id: str | None
    session_id: str | None  # the id the producer declared (a join's body), not the placement
    title: str | None
    session_type: str | None
    meta: str | None  # a `meeting.updated`'s meta object, as JSON text


_COLUMNS = ("id", "type", "meeting_id", "peer_id", "occurred_at", "received_at", "inferred")
_BODY_FIELDS = LifecycleEvent._fields[len(_COLUMNS) :]


def _lifecycle_columns(conn: AsyncConnection) -> list[Any]:
    """The columns of a `LifecycleEvent`, body fields extracted by the database's JSON
    functions (string values come back as text, an object as its JSON text)."""
    if conn.dialect.name == "postgresql":
        body = cast(events.c.body, JSON)
        fields = [body[name].as_string().label(name) for name in _BODY_FIELDS]
    else:
        fields = [
            func.json_extract(events.c.body, f"$.{name}", type_=String).label(name)
            for name in _BODY_FIELDS
        ]
    return [*(events.c[name] for name in _COLUMNS), *fields]


async def lifecycle_events(
    conn: AsyncConnection, app_pk: int, meeting_ids: Sequence[str]
) -> dict[str, list[LifecycleEvent]]:
    """Per meeting: its own lifecycle events plus every join and leave of peers that joined it.

    Two index lookups per chunk of meetings rather than one query with OR, which PostgreSQL
    would answer with a scan of the whole events table.
    """
    found: dict[str, list[LifecycleEvent]] = {m: [] for m in meeting_ids}
    columns = _lifecycle_columns(conn)
    for chunk in chunks(meeting_ids):
        own = select(*columns).where(
            events.c.app_pk == app_pk,
            events.c.meeting_id.in_(chunk),
            events.c.type.in_(LIFECYCLE_TYPES),
        )
        peer_ids = select(events.c.peer_id).where(
            events.c.app_pk == app_pk,
            events.c.meeting_id.in_(chunk),
            events.c.type == "peer.joined",
        )
        of_peers = select(*columns).where(
            events.c.app_pk == app_pk,
            events.c.type.in_(("peer.joined", "peer.left")),
            events.c.peer_id.in_(peer_ids.scalar_subquery()),
        )
        own_events = [LifecycleEvent(*r) for r in await conn.execute(own)]
        by_peer: dict[str, list[LifecycleEvent]] = {}
        for event in (LifecycleEvent(*r) for r in await conn.execute(of_peers)):
            by_peer.setdefault(event.peer_id or "", []).append(event)
        for meeting_id, stored in _per_meeting(own_events, by_peer).items():
            found[meeting_id] = stored
    return found


def _per_meeting(
    own: Sequence[LifecycleEvent], by_peer: Mapping[str, Sequence[LifecycleEvent]]
) -> dict[str, list[LifecycleEvent]]:
    """Each meeting's own events and those of the peers that joined it, once each."""
    out: dict[str, dict[str, LifecycleEvent]] = {}
    for event in own:
        mine = out.setdefault(event.meeting_id, {})
        mine.setdefault(event.id, event)
        if event.type == "peer.joined" and event.peer_id:
            for other in by_peer.get(event.peer_id, ()):
                mine.setdefault(other.id, other)
    return {m: list(found.values()) for m, found in out.items()}


async def sessions_of_peers(
    conn: AsyncConnection, app_pk: int, peer_ids: Sequence[str]
) -> dict[str, str]:
    """The session of each known peer (unknown peers are absent)."""
    return await by_key(conn, peers.c.id, peers.c.session_id, app_pk, peer_ids)


async def place_by_peer(
    conn: AsyncConnection, app_pk: int, peer_ids: Sequence[str], everything: bool
) -> None:
    """Give events of these peers their peer's session, or make them pending.

    With `everything` False only events not yet placed by peer are touched: enough when no
    known peer changed session. One statement for all known peers (executed once per peer,
    with its session as a literal: a correlated subquery is planned badly by PostgreSQL on
    freshly loaded tables) and one per chunk of unknown peers.
    """
    known = await sessions_of_peers(conn, app_pk, peer_ids)
    e = events.c
    placed = [{"b_peer": p, "b_session": known[p]} for p in peer_ids if p in known]
    if placed:
        where = [e.app_pk == app_pk, e.peer_id == bindparam("b_peer")]
        if everything:
            # Rewrite only rows whose placement really changes: cheap on PostgreSQL's MVCC.
            differs = e.session_id.is_distinct_from(bindparam("b_session"))
            where.append(differs | (e.placement != Placement.BY_PEER))
        else:
            where.append(e.placement != Placement.BY_PEER)
        await conn.execute(
            update(events)
            .where(*where)
            .values(session_id=bindparam("b_session"), placement=Placement.BY_PEER),
            placed,
        )
    for chunk in chunks([p for p in peer_ids if p not in known]):
        # A peer that is unknown (again) only un-places what its peer had placed; events
        # placed by time stay until time placement decides again.
        await conn.execute(
            update(events)
            .where(e.app_pk == app_pk, e.peer_id.in_(chunk), e.placement == Placement.BY_PEER)
            .values(session_id=None, placement=Placement.PENDING)
        )


@dataclass(frozen=True)
class TimePlaced:
    id: str
    meeting_id: str
    place_at: int
    session_id: str | None
    placement: int


async def time_placeable(
    conn: AsyncConnection, app_pk: int, meeting_ids: Sequence[str]
) -> list[TimePlaced]:
    """The meetings' chat and segments whose speaker is not a known peer."""
    found: list[TimePlaced] = []
    for chunk in chunks(meeting_ids):
        rows = await conn.execute(
            select(
                events.c.id,
                events.c.meeting_id,
                events.c.place_at,
                events.c.session_id,
                events.c.placement,
            ).where(
                events.c.app_pk == app_pk,
                events.c.meeting_id.in_(chunk),
                events.c.type.in_(TIME_PLACED_TYPES),
                events.c.placement.in_((Placement.PENDING, Placement.BY_TIME)),
            )
        )
        found += [from_row(TimePlaced, r) for r in rows]
    return found


async def set_time_placements(
    conn: AsyncConnection, app_pk: int, placements: Sequence[tuple[str, str | None]]
) -> None:
    """Move events placed by time (to a session, or None for pending): one statement, run per
    event; the caller passes only events whose placement changes."""
    if not placements:
        return
    await conn.execute(
        update(events)
        .where(events.c.app_pk == app_pk, events.c.id == bindparam("b_id"))
        .values(session_id=bindparam("b_session"), placement=bindparam("b_placement")),
        [
            {
                "b_id": event_id,
                "b_session": session_id,
                "b_placement": Placement.PENDING if session_id is None else Placement.BY_TIME,
            }
            for event_id, session_id in placements
        ],
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
    for chunk in chunks(peer_ids):
        rows = await conn.execute(
            select(events.c.peer_id, func.max(events.c.occurred_at).label("last"))
            .where(events.c.app_pk == app_pk, events.c.peer_id.in_(chunk))
            .group_by(events.c.peer_id)
        )
        found.update({r.peer_id: int(r.last) for r in rows})
    return found


async def idle_meetings(conn: AsyncConnection, cutoff: int) -> list[tuple[int, str]]:
    """(app key, meeting id) of meetings with an open peer and no event received since cutoff.

    Starts from the open peers (a partial index holds only those), not from every meeting.
    """
    open_meetings = (
        select(peers.c.app_pk, peers.c.meeting_id).where(peers.c.left_at.is_(None)).distinct()
    ).subquery()
    rows = await conn.execute(
        select(meetings.c.app_pk, meetings.c.id)
        .join(
            open_meetings,
            and_(
                meetings.c.app_pk == open_meetings.c.app_pk,
                meetings.c.id == open_meetings.c.meeting_id,
            ),
        )
        .where(meetings.c.last_received_at < cutoff)
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
