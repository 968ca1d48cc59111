"""Re-derive meetings from their stored events: sessions, peers, placements, breakout links.

Called inside the ingesting transaction (and by `rebuild` and the idle sweep), so derived data
always matches the events committed with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.ingest import repo as events_repo
from rtk_sessions.ingest.repo import LifecycleEvent
from rtk_sessions.ingest.schemas import Placement
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.sessions import derived_repo
from rtk_sessions.sessions.accounting import (
    Join,
    Leave,
    MeetingEnd,
    MeetingEvents,
    MeetingUpdate,
    Session,
    Span,
    derive_meeting,
    earliest_joins,
    effective_end,
    generated_id,
    generated_session_id,
    parent_meeting_of,
    parent_session_for,
    place_by_time,
)
from rtk_sessions.sessions.webhook_changes import owe_webhooks


def _join(e: LifecycleEvent) -> Join:
    return Join(
        event_id=e.id,
        peer_id=e.peer_id or "",
        meeting_id=e.meeting_id,
        occurred_at=e.occurred_at,
        received_at=e.received_at,
        user_id=e.user_id,
        custom_participant_id=e.custom_participant_id,
        display_name=e.display_name,
        preset_name=e.preset_name,
        preset_view_type=e.preset_view_type or "GROUP_CALL",
        socket_session_id=e.socket_session_id,
        meeting_title=e.meeting_title,
        parent_meeting_id=e.parent_meeting_id,
        session_id=e.session_id,
    )


def meeting_events(app_id: str, meeting_id: str, stored: Iterable[LifecycleEvent]) -> MeetingEvents:
    """Sort stored lifecycle events into the accounting inputs."""
    joins, leaves, ends, updates = [], [], [], []
    for e in stored:
        if e.type == "peer.joined":
            joins.append(_join(e))
        elif e.type == "peer.left":
            leaves.append(
                Leave(e.id, e.peer_id or "", e.occurred_at, e.received_at, bool(e.inferred))
            )
        elif e.meeting_id != meeting_id:
            continue
        elif e.type == "meeting.ended":
            ends.append(MeetingEnd(e.id, e.occurred_at, e.received_at))
        elif e.type == "meeting.updated":
            updates.append(
                MeetingUpdate(e.id, e.occurred_at, e.received_at, e.title, e.session_type, e.meta)
            )
    return MeetingEvents(app_id, meeting_id, joins, leaves, ends, updates)


# Meetings derived together: a handful of statements per chunk instead of ~30 per meeting.
MEETINGS_PER_CHUNK = 100


def _declared_parent(inputs: MeetingEvents) -> str | None:
    """The meeting's parent per its counting joins (a join that does not count names nothing)."""
    counting = earliest_joins(inputs.joins).values()
    return parent_meeting_of(j for j in counting if j.meeting_id == inputs.meeting_id)


def _peers_to_place(
    old_maps: dict[str, dict[str, str]], new_maps: dict[str, dict[str, str]]
) -> tuple[set[str], set[str]]:
    """(peers whose every event must be placed again, new peers whose events need a place).

    Only meetings where a peer moved or vanished need every event of their peers placed again.
    A peer that keeps its session needs nothing: its events are placed in it already, the
    batch's own ones since they were stored (`insert_new_events`). A new peer's events are
    pending (or placed by time) until now.
    """
    everything: set[str] = set()
    new_only: set[str] = set()
    for meeting_id, new_map in new_maps.items():
        old_map = old_maps.get(meeting_id, {})
        moved = any(peer in old_map and old_map[peer] != sid for peer, sid in new_map.items())
        if moved or set(old_map) - set(new_map):
            everything.update(set(old_map) | set(new_map))
        else:
            new_only.update(set(new_map) - set(old_map))
    return everything, new_only - everything


async def _unclaimed_ids(
    conn: AsyncConnection, app: AppRef, derived: dict[str, list[Session]]
) -> dict[str, list[Session]]:
    """A declared session id held by another meeting's session stays there; the session that
    also claims it takes its generated id (docs/events.md, `peer.joined`'s `session_id`).
    Generated ids name their meeting, so only declared ones are looked up."""
    declared = {
        s.id
        for sessions in derived.values()
        for s in sessions
        if s.id != generated_session_id(app.app_id, s)
    }
    if not declared:
        return derived
    held = await derived_repo.meetings_of_sessions(conn, app.pk, sorted(declared))
    owner: dict[str, str] = {}
    for m in sorted(derived):  # two meetings of this chunk claiming one id: the first wins
        for s in derived[m]:
            owner.setdefault(s.id, m)

    def keeps(m: str, s: Session) -> bool:
        return s.id not in declared or (held.get(s.id, m) in (m, *derived) and owner[s.id] == m)

    return {
        m: [s if keeps(m, s) else generated_id(app.app_id, s) for s in sessions]
        for m, sessions in derived.items()
    }


async def rederive_meetings(
    conn: AsyncConnection,
    app: AppRef,
    meeting_ids: Sequence[str],
    grace_ms: int,
    notify: bool = True,
) -> tuple[set[str], list[str]]:
    """Derive these meetings again; returns the meetings whose breakout links may have changed
    and the sessions written.

    The result is the one of deriving them one by one: derived rows depend only on each
    meeting's events, and placement reads each peer's session after all are replaced.
    """
    stored = await events_repo.lifecycle_events(conn, app.pk, meeting_ids)
    inputs = {m: meeting_events(app.app_id, m, stored.get(m, ())) for m in meeting_ids}
    derived = await _unclaimed_ids(
        conn, app, {m: derive_meeting(inputs[m], grace_ms) for m in meeting_ids}
    )
    new_parents = {m: _declared_parent(inputs[m]) for m in meeting_ids}
    old_parents = await derived_repo.parents_of(conn, app.pk, meeting_ids)
    new_maps = {m: {p.peer_id: s.id for s in derived[m] for p in s.peers} for m in meeting_ids}
    old_peers = await derived_repo.stored_peers(
        conn, app.pk, meeting_ids, (p for new_map in new_maps.values() for p in new_map)
    )
    old_maps: dict[str, dict[str, str]] = {}
    for peer in old_peers.values():
        old_maps.setdefault(peer.meeting_id, {})[peer.peer_id] = peer.session_id
    # A peer whose earliest join moved here from another meeting has events placed there.
    for m, new_map in new_maps.items():
        old_maps[m] = old_maps.get(m, {}) | {
            p: old_peers[p].session_id for p in new_map if p in old_peers
        }
    if notify:  # webhook deliveries owed for the change, in this transaction
        await owe_webhooks(conn, app, derived, inputs)
    old_sessions = await derived_repo.stored_sessions(conn, app.pk, meeting_ids)
    written = await derived_repo.replace_meetings(conn, app.pk, derived, old_sessions, old_peers)
    await derived_repo.set_parents(
        conn, app.pk, [(m, p) for m, p in new_parents.items() if old_parents.get(m) != p]
    )
    everything, new_only = _peers_to_place(old_maps, new_maps)
    await events_repo.place_by_peer(conn, app.pk, sorted(everything), everything=True)
    await events_repo.place_by_peer(conn, app.pk, sorted(new_only), everything=False)
    await place_meetings_by_time(conn, app, meeting_ids)
    touched = {m for mid in meeting_ids for m in (mid, old_parents.get(mid), new_parents[mid]) if m}
    return touched, written


async def place_meetings_by_time(
    conn: AsyncConnection, app: AppRef, meeting_ids: Sequence[str]
) -> None:
    """Chat and segments whose speaker is unknown go to the session covering their time."""
    candidates = await events_repo.time_placeable(conn, app.pk, meeting_ids)
    if not candidates:
        return
    spans = await derived_repo.spans_of_meetings(
        conn, app.pk, sorted({c.meeting_id for c in candidates})
    )
    moves = []
    for c in candidates:
        target = place_by_time(spans.get(c.meeting_id, ()), c.place_at)
        placement = Placement.PENDING if target is None else Placement.BY_TIME
        if (c.session_id, c.placement) != (target, placement):
            moves.append((c.id, target))
    await events_repo.set_time_placements(conn, app.pk, moves)


def family_links(root: str, rows: Sequence[derived_repo.FamilyRow]) -> list[derived_repo.Link]:
    """Links of the sessions of `root` (a meeting that is no breakout room itself) and of its
    breakout rooms: each room session's parent session, and the effective end of each."""
    parents = [r for r in rows if r.meeting_id == root]
    spans = [Span(r.id, r.started_at, r.own_ended_at) for r in parents]
    links: list[derived_repo.Link] = []
    kids_of: dict[str, list[derived_repo.FamilyRow]] = {}
    for r in rows:
        if r.meeting_id != root:
            parent = parent_session_for(spans, r.started_at)
            links.append(derived_repo.Link(r.id, parent, r.own_ended_at, r.own_updated_at))
            if parent:
                kids_of.setdefault(parent, []).append(r)
    for p in parents:
        kids = kids_of.get(p.id, [])
        ended = effective_end(p.own_ended_at, (k.own_ended_at for k in kids))
        updated = max([p.own_updated_at, *(k.own_updated_at for k in kids)])
        links.append(derived_repo.Link(p.id, None, ended, updated))
    return links


def _changed(row: derived_repo.FamilyRow, link: derived_repo.Link) -> bool:
    stored = (row.parent_session_id, row.ended_at, row.status, row.updated_at)
    return stored != (link.parent_session_id, link.ended_at, link.status, link.updated_at)


async def relink(conn: AsyncConnection, app: AppRef, touched: set[str]) -> list[str]:
    """Fix the breakout links of every family these meetings belong to; returns the ids of
    the sessions whose links (parent, effective end, status) changed.

    A meeting whose parent changed also changes whether its own rooms count as rooms, so
    their families are relinked too. One level of nesting: a room whose declared parent is
    itself a breakout room stands alone (and may have breakout rooms of its own).
    """
    children = await derived_repo.children_of(conn, app.pk, touched)
    families = touched | {c for kids in children.values() for c in kids}
    parents = await derived_repo.parents_of(conn, app.pk, families)
    declared = {p for p in parents.values() if p}
    parents |= await derived_repo.parents_of(conn, app.pk, declared - parents.keys())

    def root_of(m: str) -> str:
        parent = parents.get(m)
        return parent if parent is not None and parents.get(parent) is None else m

    roots = sorted({root_of(m) for m in families})
    heads = [r for r in roots if parents.get(r) is None]  # rooms have no rooms of their own
    children |= await derived_repo.children_of(conn, app.pk, set(heads) - touched)
    members = {r: [r, *(children.get(r, []) if r in heads else [])] for r in roots}
    rows = await derived_repo.family_sessions(conn, app.pk, [m for r in roots for m in members[r]])
    by_meeting: dict[str, list[derived_repo.FamilyRow]] = {}
    for row in rows:
        by_meeting.setdefault(row.meeting_id, []).append(row)
    stored = {row.id: row for row in rows}
    links = [
        link
        for r in roots
        for link in family_links(r, [row for m in members[r] for row in by_meeting.get(m, [])])
        if _changed(stored[link.session_id], link)
    ]
    await derived_repo.set_links(conn, app.pk, links)
    return [link.session_id for link in links]


async def rederive(
    conn: AsyncConnection,
    app: AppRef,
    meeting_ids: Iterable[str],
    grace_ms: int,
    notify: bool = True,
) -> set[str]:
    """Derive these meetings again, a chunk at a time, then fix the breakout links of every
    family they touch. `notify=False` (rebuild) owes no webhook deliveries. Returns the ids
    of the sessions whose stored row changed (including breakout parents relinked)."""
    ordered = sorted(set(meeting_ids))
    touched: set[str] = set()
    written: set[str] = set()
    for start in range(0, len(ordered), MEETINGS_PER_CHUNK):
        chunk = ordered[start : start + MEETINGS_PER_CHUNK]
        meetings, sessions = await rederive_meetings(conn, app, chunk, grace_ms, notify)
        touched |= meetings
        written.update(sessions)
    if touched:
        written.update(await relink(conn, app, touched))
    return written
