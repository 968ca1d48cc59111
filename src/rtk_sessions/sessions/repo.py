"""Every SQL statement about derived sessions and participants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.rows import from_row
from rtk_sessions.kit.tables import meetings, peers, sessions
from rtk_sessions.sessions.accounting import Peer, Session, Span
from rtk_sessions.sessions.folding import fold

# The largest number we hand to SQL: columns and LIMIT/OFFSET binds are 32-bit on PostgreSQL.
SQL_INT_CAP = 2**31 - 1

# --- writing derived rows ---------------------------------------------------------------


async def peer_sessions_of_meeting(
    conn: AsyncConnection, app_pk: int, meeting_id: str
) -> dict[str, str]:
    rows = await conn.execute(
        select(peers.c.id, peers.c.session_id).where(
            peers.c.app_pk == app_pk, peers.c.meeting_id == meeting_id
        )
    )
    return {r.id: r.session_id for r in rows}


async def spans_of_meeting(conn: AsyncConnection, app_pk: int, meeting_id: str) -> list[Span]:
    """Each session's own span (its own peers only), for placement and parent lookup."""
    rows = await conn.execute(
        select(sessions.c.id, sessions.c.started_at, sessions.c.own_ended_at).where(
            sessions.c.app_pk == app_pk, sessions.c.meeting_id == meeting_id
        )
    )
    return [Span(r.id, r.started_at, r.own_ended_at) for r in rows]


def _session_row(app_pk: int, s: Session) -> dict[str, Any]:
    return {
        "app_pk": app_pk,
        "id": s.id,
        "meeting_id": s.meeting_id,
        "parent_session_id": None,
        "title": s.title,
        "type": s.type,
        "meta": None if s.meta is None else msgspec.json.encode(s.meta).decode(),
        "status": "LIVE" if s.is_live else "ENDED",
        "started_at": s.started_at,
        "ended_at": s.own_ended_at,
        "own_ended_at": s.own_ended_at,
        "max_concurrent": s.max_concurrent,
        "open_count": s.open_count,
        "closed_ms": s.closed_ms,
        "open_join_sum_ms": s.open_join_sum_ms,
        "own_updated_at": s.updated_at,
        "updated_at": s.updated_at,
        "title_folded": fold(s.title),
        "meeting_id_folded": fold(s.meeting_id),
    }


def _peer_row(app_pk: int, p: Peer) -> dict[str, Any]:
    row = {"app_pk": app_pk, **p.__dict__, "id": p.peer_id}
    del row["peer_id"]
    row["id_folded"] = fold(p.peer_id)
    row["user_id_folded"] = fold(p.user_id)
    row["custom_participant_id_folded"] = fold(p.custom_participant_id)
    row["display_name_folded"] = fold(p.display_name)
    return row


async def replace_meeting(
    conn: AsyncConnection,
    app_pk: int,
    meeting_id: str,
    derived: Sequence[Session],
    parent_meeting_id: str | None,
) -> None:
    """Swap the meeting's sessions and peers for freshly derived ones."""
    await conn.execute(
        delete(sessions).where(sessions.c.app_pk == app_pk, sessions.c.meeting_id == meeting_id)
    )
    await conn.execute(
        delete(peers).where(peers.c.app_pk == app_pk, peers.c.meeting_id == meeting_id)
    )
    peer_rows = [_peer_row(app_pk, p) for s in derived for p in s.peers]
    moved = [r["id"] for r in peer_rows]
    for start in range(0, len(moved), 500):  # a peer whose earliest join moved here
        await conn.execute(
            delete(peers).where(
                peers.c.app_pk == app_pk, peers.c.id.in_(moved[start : start + 500])
            )
        )
    if derived:
        await conn.execute(insert(sessions), [_session_row(app_pk, s) for s in derived])
    if peer_rows:
        await conn.execute(insert(peers), peer_rows)
    await conn.execute(
        update(meetings)
        .where(meetings.c.app_pk == app_pk, meetings.c.id == meeting_id)
        .values(parent_meeting_id=parent_meeting_id)
    )


async def parent_meeting(conn: AsyncConnection, app_pk: int, meeting_id: str) -> str | None:
    return (
        await conn.execute(
            select(meetings.c.parent_meeting_id).where(
                meetings.c.app_pk == app_pk, meetings.c.id == meeting_id
            )
        )
    ).scalar()


async def child_meetings(conn: AsyncConnection, app_pk: int, meeting_id: str) -> list[str]:
    rows = await conn.execute(
        select(meetings.c.id)
        .where(meetings.c.app_pk == app_pk, meetings.c.parent_meeting_id == meeting_id)
        .order_by(meetings.c.id)
    )
    return [r.id for r in rows]


@dataclass(frozen=True)
class FamilyRow:
    id: str
    meeting_id: str
    started_at: int
    own_ended_at: int | None
    own_updated_at: int


async def family_sessions(
    conn: AsyncConnection, app_pk: int, meeting_ids: Sequence[str]
) -> list[FamilyRow]:
    rows = await conn.execute(
        select(
            sessions.c.id,
            sessions.c.meeting_id,
            sessions.c.started_at,
            sessions.c.own_ended_at,
            sessions.c.own_updated_at,
        ).where(sessions.c.app_pk == app_pk, sessions.c.meeting_id.in_(list(meeting_ids)))
    )
    return [
        FamilyRow(r.id, r.meeting_id, r.started_at, r.own_ended_at, r.own_updated_at) for r in rows
    ]


async def set_links(
    conn: AsyncConnection,
    app_pk: int,
    links: Sequence[tuple[str, str | None, int | None, int]],
) -> None:
    """(session id, parent session id, effective ended_at, effective updated_at) per session."""
    for sid, parent, ended_at, updated_at in links:
        await conn.execute(
            update(sessions)
            .where(sessions.c.app_pk == app_pk, sessions.c.id == sid)
            .values(
                parent_session_id=parent,
                ended_at=ended_at,
                status="ENDED" if ended_at is not None else "LIVE",
                updated_at=updated_at,
            )
        )


async def clear_derived(conn: AsyncConnection, app_pk: int) -> None:
    await conn.execute(delete(peers).where(peers.c.app_pk == app_pk))
    await conn.execute(delete(sessions).where(sessions.c.app_pk == app_pk))


# --- reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    id: str
    meeting_id: str
    parent_session_id: str | None
    title: str
    type: str
    meta: dict[str, Any] | None
    status: str
    started_at: int
    ended_at: int | None
    max_concurrent: int
    open_count: int
    closed_ms: int
    open_join_sum_ms: int
    updated_at: int


def _session_from(row: Any) -> SessionRow:
    meta = None if row.meta is None else msgspec.json.decode(row.meta)
    return from_row(SessionRow, row, meta=meta)


@dataclass(frozen=True)
class SessionQuery:
    """Filters and order of `GET /sessions`, already validated."""

    page_no: int = 1
    per_page: int = 25
    sort_by: str = "createdAt"
    descending: bool = True
    start_time: int | None = None
    end_time: int | None = None
    status: str | None = None
    search: str | None = None
    associated_id: str | None = None
    min_participants: int | None = None
    max_participants: int | None = None


def _contains(column: ColumnElement[str], folded: str) -> ColumnElement[bool]:
    """`folded` is a literal substring of `column` (`%`, `_` and `\\` match themselves)."""
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{escaped}%", escape="\\")


def _session_search(term: str, dialect: str) -> ColumnElement[bool]:
    """Literal substring, ignoring case (sessions.folding), of title, meeting id or session id.

    Matched on the stored folds. SQLite answers folded terms of 3+ characters from the
    case-sensitive FTS5 trigram index over the folds (migration 0005), a quoted phrase so that
    `%`, `_` and quotes are literal; PostgreSQL's LIKE uses the pg_trgm indexes by itself.
    Shorter terms scan.
    """
    c = sessions.c
    folded = fold(term)
    if dialect == "sqlite" and len(folded) >= 3:
        phrase = '"' + folded.replace('"', '""') + '"'
        matches: Select[tuple[Any]] = (
            select(literal_column("rowid"))
            .select_from(table("sessions_search"))
            .where(literal_column("sessions_search").op("MATCH")(phrase))
        )
        return literal_column("sessions.rowid").in_(matches)
    return or_(
        _contains(c.title_folded, folded),
        _contains(c.meeting_id_folded, folded),
        _contains(c.id, folded),
    )


def _session_filters(app_pk: int, q: SessionQuery, dialect: str) -> list[ColumnElement[bool]]:
    c = sessions.c
    where: list[ColumnElement[bool]] = [c.app_pk == app_pk]
    if q.start_time is not None:
        where.append(c.started_at >= q.start_time)
    if q.end_time is not None:
        where.append(c.started_at < q.end_time)
    if q.status:
        where.append(c.status == q.status)
    if q.associated_id:
        where.append(c.meeting_id == q.associated_id)
    if q.min_participants is not None:
        where.append(c.max_concurrent >= q.min_participants)
    if q.max_participants is not None:
        where.append(c.max_concurrent <= q.max_participants)
    if q.search:
        where.append(_session_search(q.search, dialect))
    return where


def _offset(page_no: int, per_page: int) -> int:
    """Rows to skip; past any real table's end once it stops fitting a SQL integer."""
    return min((page_no - 1) * per_page, SQL_INT_CAP)


def minutes_ms_expr(now: int) -> ColumnElement[Any]:
    """`accounting.consumed_ms` in SQL: milliseconds consumed as served at `now`."""
    c = sessions.c
    running = c.closed_ms + c.open_count * literal(now) - c.open_join_sum_ms
    return case((running < c.closed_ms, c.closed_ms), else_=running)


async def list_sessions(
    conn: AsyncConnection, app_pk: int, q: SessionQuery, now: int
) -> tuple[list[SessionRow], int]:
    where = _session_filters(app_pk, q, conn.dialect.name)
    total = int(
        (await conn.execute(select(func.count()).select_from(sessions).where(*where))).scalar_one()
    )
    key = minutes_ms_expr(now) if q.sort_by == "minutesConsumed" else sessions.c.started_at
    order = [key.desc(), sessions.c.id.desc()] if q.descending else [key.asc(), sessions.c.id.asc()]
    rows = await conn.execute(
        select(sessions)
        .where(*where)
        .order_by(*order)
        .limit(q.per_page)
        .offset(_offset(q.page_no, q.per_page))
    )
    return [_session_from(r) for r in rows], total


async def get_session(conn: AsyncConnection, app_pk: int, session_id: str) -> SessionRow | None:
    row = (
        await conn.execute(
            select(sessions).where(sessions.c.app_pk == app_pk, sessions.c.id == session_id)
        )
    ).first()
    return None if row is None else _session_from(row)


async def child_sessions(conn: AsyncConnection, app_pk: int, session_id: str) -> list[SessionRow]:
    rows = await conn.execute(
        select(sessions)
        .where(sessions.c.app_pk == app_pk, sessions.c.parent_session_id == session_id)
        .order_by(sessions.c.started_at, sessions.c.id)
    )
    return [_session_from(r) for r in rows]


@dataclass(frozen=True)
class PeerRow:
    id: str
    session_id: str
    user_id: str | None
    custom_participant_id: str | None
    display_name: str | None
    preset_name: str | None
    preset_view_type: str
    socket_session_id: str | None
    joined_at: int
    left_at: int | None
    updated_at: int


def _peer_from(row: Any) -> PeerRow:
    return from_row(PeerRow, row)


@dataclass(frozen=True)
class ParticipantQuery:
    page_no: int = 1
    per_page: int = 25
    sort_by: str = "joinedAt"
    descending: bool = False
    search: str | None = None


def peer_search(term: str) -> ColumnElement[bool]:
    """Literal substring, ignoring case (sessions.folding), of peer id, user id, custom
    participant id or display name."""
    c, folded = peers.c, fold(term)
    return or_(
        _contains(c.id_folded, folded),
        _contains(c.user_id_folded, folded),
        _contains(c.custom_participant_id_folded, folded),
        _contains(c.display_name_folded, folded),
    )


async def list_peers(
    conn: AsyncConnection, app_pk: int, session_id: str, q: ParticipantQuery, now: int
) -> tuple[list[PeerRow], int]:
    c = peers.c
    where: list[ColumnElement[bool]] = [c.app_pk == app_pk, c.session_id == session_id]
    if q.search:
        where.append(peer_search(q.search))
    total = int(
        (await conn.execute(select(func.count()).select_from(peers).where(*where))).scalar_one()
    )
    if q.sort_by == "duration":
        key: ColumnElement[Any] = func.coalesce(c.left_at, literal(now)) - c.joined_at
    else:
        key = c.joined_at
    order = [key.desc(), c.id.desc()] if q.descending else [key.asc(), c.id.asc()]
    rows = await conn.execute(
        select(peers)
        .where(*where)
        .order_by(*order)
        .limit(q.per_page)
        .offset(_offset(q.page_no, q.per_page))
    )
    return [_peer_from(r) for r in rows], total


async def peers_of_sessions(
    conn: AsyncConnection, app_pk: int, session_ids: Sequence[str]
) -> list[PeerRow]:
    rows = await conn.execute(
        select(peers)
        .where(peers.c.app_pk == app_pk, peers.c.session_id.in_(list(session_ids)))
        .order_by(peers.c.joined_at, peers.c.id)
    )
    return [_peer_from(r) for r in rows]


async def get_peer(
    conn: AsyncConnection, app_pk: int, session_id: str, peer_id: str
) -> PeerRow | None:
    row = (
        await conn.execute(
            select(peers).where(
                peers.c.app_pk == app_pk, peers.c.session_id == session_id, peers.c.id == peer_id
            )
        )
    ).first()
    return None if row is None else _peer_from(row)


async def open_peers_of_meeting(
    conn: AsyncConnection, app_pk: int, meeting_id: str
) -> list[tuple[str, str]]:
    """(peer id, session id) of the meeting's peers still connected."""
    rows = await conn.execute(
        select(peers.c.id, peers.c.session_id).where(
            peers.c.app_pk == app_pk, peers.c.meeting_id == meeting_id, peers.c.left_at.is_(None)
        )
    )
    return [(r.id, r.session_id) for r in rows]
