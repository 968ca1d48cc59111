"""RealtimeKit's history as events: pure mapping from what its Sessions API serves to the
events ingestion takes (docs/integrations.md, "History import"). No I/O here: the import run
(history_import.py) fetches, this module decides what each fact becomes.

Ids are kept: a session keeps RealtimeKit's session id (`peer.joined`'s `session_id`), a
participant its peer id, a chat message its id, a meeting its `associated_id`; event ids come
from `realtimekit_ids`, so webhooks and repeated imports of the same fact are duplicates.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from rtk_sessions.integrations import realtimekit_ids as ids
from rtk_sessions.kit.timeutil import parse_rfc3339_ms

Event = dict[str, Any]
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LIVE_MARK = "LIVE"  # a checkpoint's mark for a session read while LIVE: imported again


class SourceError(Exception):
    """What the source served cannot be used as it is (a missing field, a time that is not a
    time); the session is counted as failed, naming this."""


def to_ms(value: object, what: str) -> int:
    found = parse_rfc3339_ms(value) if isinstance(value, str) else None
    if found is None:
        raise SourceError(f"{what} is not an RFC 3339 time (got {str(value)[:60]!r})")
    return found


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


@dataclass(frozen=True)
class SourceSession:
    """One session as the source lists it."""

    id: str
    meeting_id: str
    title: str
    type: str
    status: str
    started_at_ms: int
    updated_at: str
    meta: dict[str, Any] | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> SourceSession:
        sid, meeting = _text(data.get("id")), _text(data.get("associated_id"))
        if sid is None or meeting is None:
            raise SourceError("a session without an id or associated_id")
        meta = data.get("meta")
        return cls(
            id=sid,
            meeting_id=meeting,
            title=str(data.get("meeting_display_name") or ""),
            type=str(data.get("type") or "meeting"),
            status=str(data.get("status") or ""),
            started_at_ms=to_ms(data.get("started_at"), f"session {sid}: started_at"),
            updated_at=str(data.get("updated_at") or ""),
            meta=dict(meta) if isinstance(meta, Mapping) else None,
        )

    @property
    def mark(self) -> str:
        """What the checkpoint keeps for it: an ENDED session unchanged since is skipped."""
        return self.updated_at if self.status == "ENDED" else LIVE_MARK


def wants_import(session: SourceSession, done: Mapping[str, str]) -> bool:
    """New, changed since the last run (its `updated_at` moved), or LIVE then or now."""
    return session.status != "ENDED" or done.get(session.id) != session.mark


def meeting_update(session: SourceSession) -> Event:
    """Title, type and meta as a `meeting.updated` at the session's start: the session shows
    it, and sessions of the meeting that ended before keep theirs."""
    meta = session.meta
    meta_json = msgspec.json.encode(meta, order="sorted").decode() if meta is not None else ""
    event: Event = {
        "id": ids.meeting_updated(session.id, session.title, session.type, meta_json),
        "type": "meeting.updated",
        "meeting_id": session.meeting_id,
        "occurred_at": session.started_at_ms,
        "title": session.title,
        "session_type": session.type,
    }
    if meta is not None:
        event["meta"] = meta
    return event


def _first(events: Sequence[Mapping[str, Any]], name: str) -> str | None:
    for event in events:
        if _text(event.get(name)):
            return str(event[name])
    return None


def participant_events(
    session: SourceSession, participant: Mapping[str, Any], parent_meeting_id: str | None
) -> list[Event]:
    """A raw participant (one peer) as its `peer.joined` and, once it left, `peer.left`."""
    peer = _text(participant.get("id"))
    if peer is None:
        raise SourceError(f"session {session.id}: a participant without an id")
    joined = to_ms(participant.get("joined_at"), f"participant {peer}: joined_at")
    join: Event = {
        "id": ids.peer_joined(peer),
        "type": "peer.joined",
        "meeting_id": session.meeting_id,
        "occurred_at": joined,
        "peer_id": peer,
    }
    if _UUID.fullmatch(session.id):
        join["session_id"] = session.id
    for name in ("user_id", "custom_participant_id", "display_name", "preset_name"):
        if _text(participant.get(name)):
            join[name] = participant[name]
    peer_events = [e for e in participant.get("peer_events") or [] if isinstance(e, Mapping)]
    for name in ("preset_view_type", "socket_session_id"):
        value = _first(peer_events, name)
        if value is not None:
            join[name] = value
    if parent_meeting_id is not None and parent_meeting_id != session.meeting_id:
        join["parent_meeting_id"] = parent_meeting_id
    out = [join]
    if participant.get("left_at") is not None:
        left = to_ms(participant.get("left_at"), f"participant {peer}: left_at")
        out.append(
            {
                "id": ids.peer_left(peer),
                "type": "peer.left",
                "meeting_id": session.meeting_id,
                "occurred_at": max(left, joined),
                "peer_id": peer,
            }
        )
    return out


def session_events(
    session: SourceSession,
    participants: Sequence[Mapping[str, Any]],
    parent_meeting_id: str | None,
) -> list[Event]:
    """The session's title/type/meta and every peer's join and leave."""
    out = [meeting_update(session)]
    for participant in participants:
        out += participant_events(session, participant, parent_meeting_id)
    return out


@dataclass(frozen=True)
class ChatLine:
    """One row of a chat export: a message as it is now, with its first time and sender."""

    message_id: str
    peer_id: str
    payload_type: str
    payload: str
    pinned: bool
    is_edited: bool
    created_at_ms: int


_CHAT_REQUIRED = ("id", "participantId", "payload", "createdAt")


def chat_lines(text: str) -> list[ChatLine]:
    """The rows of a chat export (RFC 4180 CSV with a header row)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in _CHAT_REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise SourceError(f"the chat export has no column {', '.join(missing)}")
    lines = []
    for number, row in enumerate(reader, 2):
        if not row.get("id") or not row.get("participantId"):
            raise SourceError(f"chat export line {number}: no id or participantId")
        lines.append(
            ChatLine(
                message_id=row["id"],
                peer_id=row["participantId"],
                payload_type=row.get("payloadType") or "TEXT_MESSAGE",
                payload=row.get("payload") or "",
                pinned=(row.get("pinned") or "").lower() == "true",
                is_edited=(row.get("isEdited") or "").lower() == "true",
                created_at_ms=to_ms(row.get("createdAt"), f"chat export line {number}: createdAt"),
            )
        )
    return lines


ChatContent = tuple[str, str, bool, bool]  # payload type, payload, pinned, edited


def chat_events(
    session: SourceSession,
    lines: Sequence[ChatLine],
    stored: Mapping[str, ChatContent],
    now: int,
) -> list[Event]:
    """Each message at its first time, as it reads now. A message already stored here
    (`stored`: message id → content) that reads differently now was edited or pinned since:
    it is stated again at `now`, so the new content wins while the first statement keeps
    its sender and time."""
    out: list[Event] = []
    for line in lines:
        content: ChatContent = (line.payload_type, line.payload, line.pinned, line.is_edited)
        body = {
            "type": "chat.message",
            "meeting_id": session.meeting_id,
            "peer_id": line.peer_id,
            "message_id": line.message_id,
            "payload_type": line.payload_type,
            "payload": line.payload,
            "pinned": line.pinned,
            "is_edited": line.is_edited,
        }
        first = ids.chat_message(session.id, line.message_id)
        out.append({"id": first, "occurred_at": line.created_at_ms, **body})
        before = stored.get(line.message_id)
        if before is not None and before != content:
            rev = ids.chat_revision(session.id, line.message_id, *content)
            out.append({"id": rev, "occurred_at": max(now, line.created_at_ms), **body})
    return out


def transcript_events(session: SourceSession, entries: object) -> list[Event]:
    """A JSON transcript (times in ms from the session start) as `transcript.segment`s."""
    if not isinstance(entries, list):
        raise SourceError("the JSON transcript is not a list")
    out: list[Event] = []
    for n, entry in enumerate(entries):
        peer = entry.get("peerData") if isinstance(entry, Mapping) else None
        peer_id = _text(peer.get("id")) if isinstance(peer, Mapping) else None
        start, end = (entry.get(k) for k in ("startTime", "endTime"))
        text = entry.get("sentence")
        if peer_id is None or not isinstance(text, str) or not isinstance(start, int | float):
            raise SourceError(f"transcript entry {n}: no peerData.id, sentence or startTime")
        started = session.started_at_ms + int(start)
        event: Event = {
            "id": ids.transcript_segment(session.id, peer_id, started, text),
            "type": "transcript.segment",
            "meeting_id": session.meeting_id,
            "occurred_at": started,
            "started_at": started,
            "peer_id": peer_id,
            "text": text,
        }
        if isinstance(end, int | float) and end >= start:
            event["ended_at"] = session.started_at_ms + int(end)
        out.append(event)
    return out


def breakout_parents(session: SourceSession, details: Mapping[str, Any]) -> dict[str, str]:
    """Room session id → the parent's meeting id, from a session read with its rooms."""
    rooms = details.get("breakout_rooms") or []
    return {
        str(room["id"]): session.meeting_id
        for room in rooms
        if isinstance(room, Mapping) and _text(room.get("id"))
    }
