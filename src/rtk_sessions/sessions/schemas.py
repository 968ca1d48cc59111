"""Wire shapes of the sessions endpoints, exactly as SDK 5.9.0 reads them (docs/api.md).

Mixed placement is real: `paging` is top-level for sessions but inside `data` for
participants.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from rtk_sessions.kit.ids import peer_event_id
from rtk_sessions.kit.timeutil import to_iso, to_iso_or_none
from rtk_sessions.sessions.accounting import consumed_ms, interval_ms, minutes
from rtk_sessions.sessions.repo import PeerRow, SessionRow
from rtk_sessions.sessions.usage import DayUsage, day_iso


class Paging(msgspec.Struct):
    total_count: int
    start_offset: int
    end_offset: int


def paging(total: int, page_no: int, per_page: int, rows: int) -> Paging:
    """1-based inclusive offsets of the rows returned; zeros for an empty page."""
    if rows == 0:
        return Paging(total, 0, 0)
    start = (page_no - 1) * per_page + 1
    return Paging(total, start, start + rows - 1)


class SessionOut(msgspec.Struct):
    id: str
    associated_id: str
    meeting_display_name: str
    type: Literal["meeting", "livestream", "participant"]
    status: Literal["LIVE", "ENDED"]
    live_participants: int
    max_concurrent_participants: int
    minutes_consumed: float
    organization_id: str
    started_at: str
    created_at: str
    updated_at: str
    ended_at: str | None
    meta: dict[str, Any]
    breakout_rooms: list[SessionOut]


def session_out(
    row: SessionRow, app_id: str, now: int, breakout_rooms: list[SessionOut] | None = None
) -> SessionOut:
    started_at = to_iso(row.started_at)
    return SessionOut(
        id=row.id,
        associated_id=row.meeting_id,
        meeting_display_name=row.title,
        type=row.type,  # type: ignore[arg-type]  # validated at ingestion
        status=row.status,  # type: ignore[arg-type]
        live_participants=row.open_count,
        max_concurrent_participants=row.max_concurrent,
        minutes_consumed=minutes(
            consumed_ms(row.closed_ms, row.open_count, row.open_join_sum_ms, now)
        ),
        organization_id=app_id,
        started_at=started_at,
        created_at=started_at,
        updated_at=to_iso(row.updated_at),
        ended_at=to_iso_or_none(row.ended_at),
        meta=row.meta or {},
        breakout_rooms=breakout_rooms or [],
    )


class PeerEventOut(msgspec.Struct):
    id: str
    peer_id: str
    participant_id: str | None
    session_id: str
    socket_session_id: str | None
    event_name: Literal["PEER_CREATED", "PEER_JOINING", "PEER_LEAVING"]
    preset_view_type: Literal["GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM", "CHAT"]
    minutes_consumed: float
    created_at: str
    updated_at: str


def peer_events(peer: PeerRow) -> list[PeerEventOut]:
    """PEER_CREATED and PEER_JOINING at the join, PEER_LEAVING at the leave (docs/accounting.md)."""
    joined = to_iso(peer.joined_at)
    moments: list[tuple[Literal["PEER_CREATED", "PEER_JOINING", "PEER_LEAVING"], str, float]] = [
        ("PEER_CREATED", joined, 0.0),
        ("PEER_JOINING", joined, 0.0),
    ]
    if peer.left_at is not None:
        consumed = minutes(peer.left_at - peer.joined_at)
        moments.append(("PEER_LEAVING", to_iso(peer.left_at), consumed))
    return [
        PeerEventOut(
            id=peer_event_id(peer.id, name),
            peer_id=peer.id,
            participant_id=peer.user_id,
            session_id=peer.session_id,
            socket_session_id=peer.socket_session_id,
            event_name=name,
            preset_view_type=peer.preset_view_type,  # type: ignore[arg-type]
            minutes_consumed=consumed,
            created_at=at,
            updated_at=at,
        )
        for name, at, consumed in moments
    ]


class ParticipantOut(msgspec.Struct, omit_defaults=True):
    id: str
    user_id: str | None
    custom_participant_id: str | None
    display_name: str | None
    preset_name: str | None
    joined_at: str
    left_at: str | None
    duration: float
    created_at: str
    updated_at: str
    peer_events: list[PeerEventOut] | msgspec.UnsetType = msgspec.UNSET


def participant_out(peer: PeerRow, now: int, with_events: bool) -> ParticipantOut:
    joined_at = to_iso(peer.joined_at)
    return ParticipantOut(
        id=peer.id,
        user_id=peer.user_id,
        custom_participant_id=peer.custom_participant_id,
        display_name=peer.display_name,
        preset_name=peer.preset_name,
        joined_at=joined_at,
        left_at=to_iso_or_none(peer.left_at),
        duration=minutes(interval_ms(peer.joined_at, peer.left_at, now)),
        created_at=joined_at,
        updated_at=to_iso(peer.updated_at),
        peer_events=peer_events(peer) if with_events else msgspec.UNSET,
    )


# --- envelopes --------------------------------------------------------------------------


class SessionsData(msgspec.Struct):
    sessions: list[SessionOut]


class SessionsResponse(msgspec.Struct):
    data: SessionsData
    paging: Paging
    success: bool = True


class SessionResponse(msgspec.Struct):
    data: SessionOut
    success: bool = True


class ParticipantsData(msgspec.Struct):
    participants: list[ParticipantOut]
    paging: Paging


class ParticipantsResponse(msgspec.Struct):
    data: ParticipantsData
    success: bool = True


class ParticipantData(msgspec.Struct):
    participant: ParticipantOut


class ParticipantResponse(msgspec.Struct):
    data: ParticipantData
    success: bool = True


# --- daywise usage (GET /analytics/daywise, and the dashboard's usage page) ---


class SessionDayStat(msgspec.Struct):
    day: str
    total_sessions: int
    total_session_minutes: float


class SessionStats(msgspec.Struct):
    day_stats: list[SessionDayStat]
    sessions_count: int
    sessions_minutes_consumed: float


def session_stats(days: list[DayUsage]) -> SessionStats:
    return SessionStats(
        day_stats=[SessionDayStat(day_iso(d.day), d.sessions, minutes(d.ms)) for d in days],
        sessions_count=sum(d.sessions for d in days),
        sessions_minutes_consumed=minutes(sum(d.ms for d in days)),
    )
