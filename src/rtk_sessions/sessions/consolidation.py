"""The consolidated participant view: one row per person across a session and its breakout
rooms, reconnects merged (docs/accounting.md). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from rtk_sessions.kit.timeutil import to_iso, to_iso_or_none
from rtk_sessions.sessions.accounting import minutes, union_ms
from rtk_sessions.sessions.repo import PeerRow
from rtk_sessions.sessions.schemas import ParticipantOut, PeerEventOut, peer_events


def person_key(peer: PeerRow) -> str:
    """A person is their user id, else custom participant id, else the peer itself."""
    if peer.user_id:
        return f"u:{peer.user_id}"
    if peer.custom_participant_id:
        return f"c:{peer.custom_participant_id}"
    return f"p:{peer.id}"


def _person(peers: Sequence[PeerRow], now: int, with_events: bool) -> tuple[ParticipantOut, int]:
    by_join = sorted(peers, key=lambda p: (p.joined_at, p.id))
    first, latest = by_join[0], by_join[-1]
    still_connected = any(p.left_at is None for p in peers)
    left_at = None if still_connected else max(p.left_at or 0 for p in peers)
    duration_ms = union_ms(((p.joined_at, p.left_at) for p in peers), now)
    events: list[PeerEventOut] = []
    if with_events:
        events = sorted(
            (e for p in peers for e in peer_events(p)),
            key=lambda e: (e.created_at, e.peer_id, e.event_name),
        )
    joined_at = to_iso(first.joined_at)
    out = ParticipantOut(
        id=first.id,
        user_id=latest.user_id,
        custom_participant_id=latest.custom_participant_id,
        display_name=latest.display_name,
        preset_name=latest.preset_name,
        joined_at=joined_at,
        left_at=to_iso_or_none(left_at),
        duration=minutes(duration_ms),
        created_at=joined_at,
        updated_at=to_iso(max(p.updated_at for p in peers)),
        **({"peer_events": events} if with_events else {}),
    )
    return out, duration_ms


def _matches(peers: Sequence[PeerRow], term: str) -> bool:
    needle = term.lower()
    return any(
        needle in (value or "").lower()
        for p in peers
        for value in (p.id, p.user_id, p.custom_participant_id, p.display_name)
    )


def consolidate(
    peers: Sequence[PeerRow],
    now: int,
    *,
    search: str | None,
    sort_by: str,
    descending: bool,
    with_events: bool,
) -> list[ParticipantOut]:
    """Every person, filtered by `search`, in the requested order (ties by id)."""
    groups: dict[str, list[PeerRow]] = {}
    for peer in peers:
        groups.setdefault(person_key(peer), []).append(peer)
    rows = [
        _person(g, now, with_events) for g in groups.values() if not search or _matches(g, search)
    ]
    if sort_by == "duration":
        rows.sort(key=lambda r: (r[1], r[0].id), reverse=descending)
    else:
        rows.sort(key=lambda r: (r[0].joined_at, r[0].id), reverse=descending)
    return [r[0] for r in rows]
