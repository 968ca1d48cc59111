"""Re-derive meetings from their stored events: sessions, peers, placements, breakout links.

Called inside the ingesting transaction (and by `rebuild` and the idle sweep), so derived data
always matches the events committed with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.ingest import repo as events_repo
from rtk_sessions.ingest.repo import StoredEvent
from rtk_sessions.sessions import repo
from rtk_sessions.sessions.accounting import (
    Join,
    Leave,
    MeetingEnd,
    MeetingEvents,
    MeetingUpdate,
    Span,
    derive_meeting,
    earliest_joins,
    effective_end,
    parent_meeting_of,
    parent_session_for,
    place_by_time,
)


@dataclass(frozen=True)
class AppRef:
    pk: int
    app_id: str


def _join(e: StoredEvent) -> Join:
    b = e.body
    return Join(
        event_id=e.id,
        peer_id=e.peer_id or "",
        meeting_id=e.meeting_id,
        occurred_at=e.occurred_at,
        received_at=e.received_at,
        user_id=b.get("user_id"),
        custom_participant_id=b.get("custom_participant_id"),
        display_name=b.get("display_name"),
        preset_name=b.get("preset_name"),
        preset_view_type=b.get("preset_view_type") or "GROUP_CALL",
        socket_session_id=b.get("socket_session_id"),
        meeting_title=b.get("meeting_title"),
        parent_meeting_id=b.get("parent_meeting_id"),
    )


def meeting_events(app_id: str, meeting_id: str, stored: Iterable[StoredEvent]) -> MeetingEvents:
    """Sort stored lifecycle events into the accounting inputs."""
    joins, leaves, ends, updates = [], [], [], []
    for e in stored:
        if e.type == "peer.joined":
            joins.append(_join(e))
        elif e.type == "peer.left":
            leaves.append(Leave(e.id, e.peer_id or "", e.occurred_at, e.received_at, e.inferred))
        elif e.meeting_id != meeting_id:
            continue
        elif e.type == "meeting.ended":
            ends.append(MeetingEnd(e.id, e.occurred_at, e.received_at))
        elif e.type == "meeting.updated":
            b = e.body
            updates.append(
                MeetingUpdate(
                    e.id,
                    e.occurred_at,
                    e.received_at,
                    b.get("title"),
                    b.get("session_type"),
                    b.get("meta"),
                )
            )
    return MeetingEvents(app_id, meeting_id, joins, leaves, ends, updates)


async def rederive_meeting(
    conn: AsyncConnection, app: AppRef, meeting_id: str, grace_ms: int
) -> set[str]:
    """Derive one meeting again; returns the meetings whose breakout links may have changed."""
    stored = await events_repo.lifecycle_events(conn, app.pk, meeting_id)
    inputs = meeting_events(app.app_id, meeting_id, stored)
    derived = derive_meeting(inputs, grace_ms)
    old_parent = await repo.parent_meeting(conn, app.pk, meeting_id)
    counting = earliest_joins(inputs.joins).values()  # a join that does not count names nothing
    new_parent = parent_meeting_of(j for j in counting if j.meeting_id == meeting_id)
    old_map = await repo.peer_sessions_of_meeting(conn, app.pk, meeting_id)
    # A peer whose earliest join moved here from another meeting has events placed there.
    old_map |= await events_repo.sessions_of_peers(
        conn, app.pk, [p.peer_id for s in derived for p in s.peers]
    )
    await repo.replace_meeting(conn, app.pk, meeting_id, derived, new_parent)
    new_map = {p.peer_id: s.id for s in derived for p in s.peers}
    # New peers' events are unplaced anyway; only peers that moved or vanished need a sweep.
    moved = any(peer in old_map and old_map[peer] != sid for peer, sid in new_map.items())
    changed = moved or bool(set(old_map) - set(new_map))
    await events_repo.place_by_peer(
        conn, app.pk, sorted(set(old_map) | set(new_map)), everything=changed
    )
    await place_meeting_by_time(conn, app, meeting_id)
    return {m for m in (meeting_id, old_parent, new_parent) if m}


async def place_meeting_by_time(conn: AsyncConnection, app: AppRef, meeting_id: str) -> None:
    """Chat and segments whose speaker is unknown go to the session covering their time."""
    candidates = await events_repo.time_placeable(conn, app.pk, meeting_id)
    if not candidates:
        return
    spans = await repo.spans_of_meeting(conn, app.pk, meeting_id)
    await events_repo.set_time_placements(
        conn, app.pk, [(event_id, place_by_time(spans, at)) for event_id, at in candidates]
    )


async def breakout_parent(conn: AsyncConnection, app: AppRef, meeting_id: str) -> str | None:
    """The meeting this one is a breakout room of, if any.

    One level of nesting: a room whose declared parent is itself a breakout room stands
    alone (and may have breakout rooms of its own).
    """
    parent = await repo.parent_meeting(conn, app.pk, meeting_id)
    if parent is None or await repo.parent_meeting(conn, app.pk, parent) is not None:
        return None
    return parent


async def relink_family(conn: AsyncConnection, app: AppRef, meeting_id: str) -> None:
    """Attach the breakout sessions of `meeting_id` (a meeting that is no breakout room
    itself) and set the effective status of its sessions."""
    is_room = await repo.parent_meeting(conn, app.pk, meeting_id) is not None
    children = [] if is_room else await repo.child_meetings(conn, app.pk, meeting_id)
    rows = await repo.family_sessions(conn, app.pk, [meeting_id, *children])
    parents = [r for r in rows if r.meeting_id == meeting_id]
    spans = [Span(r.id, r.started_at, r.own_ended_at) for r in parents]
    links: list[tuple[str, str | None, int | None, int]] = []
    kids_of: dict[str, list[repo.FamilyRow]] = {}
    for r in rows:
        if r.meeting_id != meeting_id:
            parent = parent_session_for(spans, r.started_at)
            links.append((r.id, parent, r.own_ended_at, r.own_updated_at))
            if parent:
                kids_of.setdefault(parent, []).append(r)
    for p in parents:
        kids = kids_of.get(p.id, [])
        ended = effective_end(p.own_ended_at, (k.own_ended_at for k in kids))
        updated = max([p.own_updated_at, *(k.own_updated_at for k in kids)])
        links.append((p.id, None, ended, updated))
    await repo.set_links(conn, app.pk, links)


async def rederive(
    conn: AsyncConnection, app: AppRef, meeting_ids: Iterable[str], grace_ms: int
) -> None:
    """Derive these meetings again, then fix breakout links of every family they touch.

    A meeting whose parent changed also changes whether its own rooms count as rooms, so
    their families are relinked too.
    """
    families: set[str] = set()
    for meeting_id in sorted(set(meeting_ids)):
        families |= await rederive_meeting(conn, app, meeting_id, grace_ms)
    for meeting_id in list(families):
        families.update(await repo.child_meetings(conn, app.pk, meeting_id))
    roots = {await breakout_parent(conn, app, m) or m for m in families}
    for root in sorted(roots):
        await relink_family(conn, app, root)
