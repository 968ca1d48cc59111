"""Reading sessions and participants: store rows in, wire objects out."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.errors import NotFound
from rtk_sessions.kit.ids import is_uuid
from rtk_sessions.sessions import repo
from rtk_sessions.sessions.consolidation import consolidate
from rtk_sessions.sessions.queries import ParticipantsRequest
from rtk_sessions.sessions.repo import MeetingUsage, PeerRow, SessionQuery, SessionRow
from rtk_sessions.sessions.schemas import (
    Paging,
    ParticipantOut,
    SessionOut,
    paging,
    participant_out,
    session_out,
)


async def list_sessions(
    conn: AsyncConnection, app: AppRef, q: SessionQuery, now: int
) -> tuple[list[SessionOut], Paging]:
    rows, total = await repo.list_sessions(conn, app.pk, q, now)
    return [session_out(r, app.app_id, now) for r in rows], paging(
        total, q.page_no, q.per_page, len(rows)
    )


async def find_session(conn: AsyncConnection, app: AppRef, session_id: str) -> SessionRow:
    row = await repo.get_session(conn, app.pk, session_id) if is_uuid(session_id) else None
    if row is None:
        raise NotFound(f"No session found with id {session_id}")
    return row


async def get_session(
    conn: AsyncConnection, app: AppRef, session_id: str, include_breakout_rooms: bool, now: int
) -> SessionOut:
    row = await find_session(conn, app, session_id)
    if not include_breakout_rooms:
        return session_out(row, app.app_id, now)
    served, _ = await _with_rooms(conn, app, row, now)
    return served


async def _with_rooms(
    conn: AsyncConnection, app: AppRef, row: SessionRow, now: int
) -> tuple[SessionOut, list[SessionRow]]:
    """The session as served with its breakout rooms, and the rooms' rows."""
    rooms = await repo.child_sessions(conn, app.pk, row.id)
    served = [session_out(c, app.app_id, now) for c in rooms]
    return session_out(row, app.app_id, now, served), rooms


async def active_session(
    conn: AsyncConnection, app: AppRef, meeting_id: str, now: int
) -> SessionOut:
    """The meeting's LIVE session with its breakout rooms; 404 when it has none."""
    row = await repo.live_session_of_meeting(conn, app.pk, meeting_id)
    if row is None:
        raise NotFound(f"Meeting {meeting_id} has no active session (none of its sessions is LIVE)")
    served, _ = await _with_rooms(conn, app, row, now)
    return served


async def list_participants(
    conn: AsyncConnection, app: AppRef, session_id: str, req: ParticipantsRequest, now: int
) -> tuple[list[ParticipantOut], Paging]:
    session = await find_session(conn, app, session_id)
    q = req.query
    if not req.consolidated:
        rows, total = await repo.list_peers(conn, app.pk, session.id, q, now)
        page = [participant_out(p, now, req.include_peer_events) for p in rows]
        return page, paging(total, q.page_no, q.per_page, len(page))
    children = await repo.child_sessions(conn, app.pk, session.id)
    peers = await repo.peers_of_sessions(conn, app.pk, [session.id, *(c.id for c in children)])
    people = consolidate(
        peers,
        now,
        search=q.search,
        sort_by=q.sort_by,
        descending=q.descending,
        with_events=req.include_peer_events,
    )
    start = (q.page_no - 1) * q.per_page
    page = people[start : start + q.per_page]
    return page, paging(len(people), q.page_no, q.per_page, len(page))


async def get_participant(
    conn: AsyncConnection,
    app: AppRef,
    session_id: str,
    participant_id: str,
    include_peer_events: bool,
    now: int,
) -> ParticipantOut:
    session = await find_session(conn, app, session_id)
    peer = await repo.get_peer(conn, app.pk, session.id, participant_id)
    if peer is None:
        raise NotFound(f"No user found with id {participant_id} in session {session.id}")
    return participant_out(peer, now, include_peer_events)


@dataclass(frozen=True)
class SessionOverview:
    """A session with everything the dashboard's session page shows of it, read with one
    statement per table: the session as the API serves it (breakout rooms included), its
    rows and its rooms' rows, and every peer of all of them."""

    session: SessionOut
    row: SessionRow
    rooms: list[SessionRow]
    peers: list[PeerRow]

    def people(self, now: int) -> list[ParticipantOut]:
        """The consolidated view, as `view=consolidated` answers it (joined first)."""
        return consolidate(
            self.peers, now, search=None, sort_by="joinedAt", descending=False, with_events=False
        )


async def session_overview(
    conn: AsyncConnection, app: AppRef, session_id: str, now: int
) -> SessionOverview:
    row = await find_session(conn, app, session_id)
    served, rooms = await _with_rooms(conn, app, row, now)
    peers = await repo.peers_of_sessions(conn, app.pk, [row.id, *(c.id for c in rooms)])
    return SessionOverview(served, row, rooms, peers)


async def busiest_meetings(
    conn: AsyncConnection, app: AppRef, start: int, end: int, now: int, limit: int = 10
) -> list[MeetingUsage]:
    """The meetings whose sessions started in [start, end) consumed the most minutes."""
    return await repo.busiest_meetings(conn, app.pk, start, end, now, limit)
