"""Session accounting: the meeting's lifecycle events in, sessions and participants out.

Pure functions, no I/O. Everything here depends only on the *set* of events it is given
(ties are broken by event id or peer id, never by arrival order), which is what makes the
derived data order-independent and `rebuild` exact (docs/accounting.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rtk_sessions.kit.ids import session_id as make_session_id

PLACEMENT_TOLERANCE_MS = 60_000


@dataclass(frozen=True)
class Join:
    event_id: str
    peer_id: str
    meeting_id: str
    occurred_at: int
    received_at: int
    user_id: str | None = None
    custom_participant_id: str | None = None
    display_name: str | None = None
    preset_name: str | None = None
    preset_view_type: str = "GROUP_CALL"
    socket_session_id: str | None = None
    meeting_title: str | None = None
    parent_meeting_id: str | None = None
    session_id: str | None = None  # the id the producer gave the session (e.g. RealtimeKit's)


@dataclass(frozen=True)
class Leave:
    event_id: str
    peer_id: str
    occurred_at: int
    received_at: int
    inferred: bool = False


@dataclass(frozen=True)
class MeetingEnd:
    event_id: str
    occurred_at: int
    received_at: int


@dataclass(frozen=True)
class MeetingUpdate:
    """A `meeting.updated` (or a join's `meeting_title`); None means "not set by this event".
    `meta` is carried, never looked into: an object, or its JSON text as read from the store."""

    event_id: str
    occurred_at: int
    received_at: int
    title: str | None = None
    session_type: str | None = None
    meta: dict[str, Any] | str | None = None


@dataclass(frozen=True)
class Peer:
    peer_id: str
    session_id: str
    meeting_id: str
    joined_at: int
    left_at: int | None
    updated_at: int
    user_id: str | None
    custom_participant_id: str | None
    display_name: str | None
    preset_name: str | None
    preset_view_type: str
    socket_session_id: str | None


@dataclass(frozen=True)
class Session:
    id: str
    meeting_id: str
    title: str
    type: str
    meta: dict[str, Any] | str | None  # as the deciding MeetingUpdate carried it
    started_at: int
    own_ended_at: int | None
    max_concurrent: int
    open_count: int
    closed_ms: int
    open_join_sum_ms: int
    updated_at: int
    peers: tuple[Peer, ...] = field(default=())

    @property
    def is_live(self) -> bool:
        return self.open_count > 0


@dataclass(frozen=True)
class MeetingEvents:
    """Everything that shapes one meeting's sessions."""

    app_id: str
    meeting_id: str
    joins: Sequence[Join] = ()
    leaves: Sequence[Leave] = ()
    ends: Sequence[MeetingEnd] = ()
    updates: Sequence[MeetingUpdate] = ()


def earliest_joins(joins: Iterable[Join]) -> dict[str, Join]:
    """The join that counts for each peer: earliest `occurred_at`, then lowest event id."""
    chosen: dict[str, Join] = {}
    for join in joins:
        best = chosen.get(join.peer_id)
        if best is None or (join.occurred_at, join.event_id) < (best.occurred_at, best.event_id):
            chosen[join.peer_id] = join
    return chosen


def parent_meeting_of(joins: Iterable[Join]) -> str | None:
    """A meeting is a breakout room of the parent named by its earliest join that names one."""
    named = [j for j in joins if j.parent_meeting_id]
    if not named:
        return None
    return min(named, key=lambda j: (j.occurred_at, j.event_id)).parent_meeting_id


def _leave_of(
    join: Join, leaves: Sequence[Leave], ends: Sequence[MeetingEnd]
) -> tuple[int | None, int]:
    """(left_at, received_at of the deciding event); a real leave replaces an inferred one."""
    real = [lv for lv in leaves if not lv.inferred]
    pool = real or list(leaves)
    candidates: list[tuple[int, str, int]] = []
    if pool:
        lv = min(pool, key=lambda x: (x.occurred_at, x.event_id))
        candidates.append((max(lv.occurred_at, join.occurred_at), lv.event_id, lv.received_at))
    after_join = [e for e in ends if e.occurred_at >= join.occurred_at]
    if after_join:
        end = min(after_join, key=lambda x: (x.occurred_at, x.event_id))
        candidates.append((end.occurred_at, end.event_id, end.received_at))
    if not candidates:
        return None, join.received_at
    left_at, _, received = min(candidates)
    return left_at, max(received, join.received_at)


def _components(peers: list[Peer], grace_ms: int) -> list[list[Peer]]:
    """Peers whose intervals overlap, touch, or lie within `grace_ms` form one component."""
    ordered = sorted(peers, key=lambda p: (p.joined_at, p.peer_id))
    groups: list[list[Peer]] = []
    reach: float = float("-inf")
    for peer in ordered:
        if not groups or peer.joined_at > reach + grace_ms:
            groups.append([])
            reach = float("-inf")
        groups[-1].append(peer)
        reach = max(reach, float("inf") if peer.left_at is None else peer.left_at)
    return groups


def max_concurrent(intervals: Iterable[tuple[int, int | None]]) -> int:
    """The most intervals open at one instant; at an instant, leaves apply before joins.

    A zero-length interval still counts for its instant: its own leave sorts after the joins.
    """
    best = current = 0
    for _, _, delta in _changes(intervals):
        current += delta
        best = max(best, current)
    return best


def _changes(intervals: Iterable[tuple[int, int | None]]) -> list[tuple[int, int, int]]:
    """(instant, order, +1 join or -1 leave), in the order `max_concurrent` applies them."""
    points: list[tuple[int, int, int]] = []
    for joined, left in intervals:
        points.append((joined, 1, +1))
        if left is not None:
            points.append((left, 2 if left == joined else 0, -1))
    points.sort()
    return points


def concurrency_steps(intervals: Iterable[tuple[int, int | None]]) -> list[tuple[int, int]]:
    """(instant, intervals open from then on) at every instant the count changes, counted as
    `max_concurrent` counts, so the highest step is the session's max_concurrent; a count
    that only peaks within one instant (a zero-length visit) is kept as its own step."""
    steps: list[tuple[int, int]] = []
    current = 0
    for at, _, delta in _changes(intervals):
        current += delta
        if steps and steps[-1][0] == at and not (delta < 0 and steps[-1][1] > current):
            steps[-1] = (at, current)
        else:
            steps.append((at, current))
    return steps


def _latest(updates: Sequence[MeetingUpdate], until: int | None, attr: str) -> MeetingUpdate | None:
    eligible = [
        u
        for u in updates
        if getattr(u, attr) is not None and (until is None or u.occurred_at <= until)
    ]
    return max(eligible, key=lambda u: (u.occurred_at, u.event_id)) if eligible else None


def _meeting_attributes(
    updates: Sequence[MeetingUpdate], ended_at: int | None
) -> tuple[str, str, dict[str, Any] | str | None, int]:
    """Title, type and meta in force at the session's end (any while LIVE), and their time."""
    title = _latest(updates, ended_at, "title")
    kind = _latest(updates, ended_at, "session_type")
    meta = _latest(updates, ended_at, "meta")
    received = max((u.received_at for u in (title, kind, meta) if u is not None), default=0)
    return (
        title.title if title and title.title is not None else "",
        kind.session_type if kind and kind.session_type else "meeting",
        meta.meta if meta else None,
        received,
    )


def _in_session(p: Peer, sid: str) -> Peer:
    """The peer in session `sid` (`dataclasses.replace`, spelled out: it is on the hot path)."""
    return Peer(p.peer_id, sid, p.meeting_id, p.joined_at, p.left_at, p.updated_at, p.user_id,
                p.custom_participant_id, p.display_name, p.preset_name, p.preset_view_type,
                p.socket_session_id)  # fmt: skip


def _session_of(
    app_id: str,
    meeting_id: str,
    group: list[Peer],
    updates: Sequence[MeetingUpdate],
    sid: str | None = None,
) -> Session:
    first = group[0]  # sorted by (joined_at, peer_id)
    sid = sid or make_session_id(app_id, meeting_id, first.peer_id)
    peers = tuple(_in_session(p, sid) for p in group)
    open_peers = [p for p in peers if p.left_at is None]
    ended_at = None if open_peers else max(p.left_at or 0 for p in peers)
    title, kind, meta, attrs_received = _meeting_attributes(updates, ended_at)
    return Session(
        id=sid,
        meeting_id=meeting_id,
        title=title,
        type=kind,
        meta=meta,
        started_at=first.joined_at,
        own_ended_at=ended_at,
        max_concurrent=max_concurrent((p.joined_at, p.left_at) for p in peers),
        open_count=len(open_peers),
        closed_ms=sum(p.left_at - p.joined_at for p in peers if p.left_at is not None),
        open_join_sum_ms=sum(p.joined_at for p in open_peers),
        updated_at=max([attrs_received, *(p.updated_at for p in peers)]),
        peers=peers,
    )


def derive_meeting(events: MeetingEvents, grace_ms: int = 0) -> list[Session]:
    """The meeting's sessions, oldest first. `events.joins` may include joins of the same
    peers in other meetings: a peer belongs where its earliest join is."""
    leaves_by_peer: dict[str, list[Leave]] = {}
    for leave in events.leaves:
        leaves_by_peer.setdefault(leave.peer_id, []).append(leave)
    updates = list(events.updates)
    peers: list[Peer] = []
    for join in earliest_joins(events.joins).values():
        if join.meeting_id != events.meeting_id:
            continue
        if join.meeting_title is not None:
            updates.append(
                MeetingUpdate(
                    join.event_id, join.occurred_at, join.received_at, title=join.meeting_title
                )
            )
        left_at, updated_at = _leave_of(join, leaves_by_peer.get(join.peer_id, []), events.ends)
        peers.append(
            Peer(
                peer_id=join.peer_id,
                session_id="",
                meeting_id=events.meeting_id,
                joined_at=join.occurred_at,
                left_at=left_at,
                updated_at=updated_at,
                user_id=join.user_id,
                custom_participant_id=join.custom_participant_id,
                display_name=join.display_name,
                preset_name=join.preset_name,
                preset_view_type=join.preset_view_type,
                socket_session_id=join.socket_session_id,
            )
        )
    declared = {
        j.peer_id: j.session_id for j in earliest_joins(events.joins).values() if j.session_id
    }
    sessions: list[Session] = []
    for group in _components(peers, grace_ms):
        wanted = declared.get(group[0].peer_id)
        # An id is one session's: a later session of the meeting claiming it gets its own.
        taken = any(s.id == wanted for s in sessions)
        sid = None if taken else wanted
        sessions.append(_session_of(events.app_id, events.meeting_id, group, updates, sid))
    return sessions


def generated_session_id(app_id: str, session: Session) -> str:
    """The id the session has when no join declares one."""
    first = min(session.peers, key=lambda p: (p.joined_at, p.peer_id))
    return make_session_id(app_id, session.meeting_id, first.peer_id)


def generated_id(app_id: str, session: Session) -> Session:
    """The session under the id it would have without a declared one: for a declared id that
    a session of another meeting holds already."""
    sid = generated_session_id(app_id, session)
    return replace(session, id=sid, peers=tuple(_in_session(p, sid) for p in session.peers))


# --- placement --------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    session_id: str
    started_at: int
    ended_at: int | None  # None while LIVE


def place_by_time(
    spans: Iterable[Span], at: int, tolerance_ms: int = PLACEMENT_TOLERANCE_MS
) -> str | None:
    """The session whose span contains `at` (± tolerance); the earlier one if two match."""
    matches = [
        s
        for s in spans
        if s.started_at - tolerance_ms <= at
        and (s.ended_at is None or at <= s.ended_at + tolerance_ms)
    ]
    if not matches:
        return None
    return min(matches, key=lambda s: (s.started_at, s.session_id)).session_id


# --- breakout rooms ---------------------------------------------------------------------


def parent_session_for(parent_spans: Iterable[Span], child_started_at: int) -> str | None:
    """The parent-meeting session whose own span contains the child's start (no tolerance)."""
    return place_by_time(parent_spans, child_started_at, tolerance_ms=0)


def effective_end(own_ended_at: int | None, children_ended_at: Iterable[int | None]) -> int | None:
    """A parent session stays LIVE while any child is LIVE, and ends with its last child."""
    ends = [own_ended_at, *children_ended_at]
    if any(e is None for e in ends):
        return None
    return max(e for e in ends if e is not None)


# --- figures as served ------------------------------------------------------------------


def minutes(ms: int) -> float:
    return ms / 60_000


def consumed_ms(closed_ms: int, open_count: int, open_join_sum_ms: int, now: int) -> int:
    """A session's connected milliseconds at `now`: closed intervals plus open ones run to
    now, never less than the closed part (a join stamped ahead of the clock adds nothing).
    `sessions.repo.minutes_ms_expr` is the same formula in SQL, for sorting."""
    return max(closed_ms + open_count * now - open_join_sum_ms, closed_ms)


def interval_ms(joined_at: int, left_at: int | None, now: int) -> int:
    """Length of a connected interval; an open one runs to now (never negative)."""
    return max(0, (now if left_at is None else left_at) - joined_at)


def union_ms(intervals: Iterable[tuple[int, int | None]], now: int) -> int:
    """Length of the union of intervals (open ones run to now)."""
    spans = sorted((j, max(j, now if lft is None else lft)) for j, lft in intervals)
    total = 0
    cur_start: int | None = None
    cur_end = 0
    for start, end in spans:
        if cur_start is None or start > cur_end:
            if cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_start is not None:
        total += cur_end - cur_start
    return total
