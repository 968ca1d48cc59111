"""What a RealtimeKit webhook means here: events (docs/events.md) and files to download.

Pure functions over the decoded payload. Every event id comes from realtimekit_ids, so a
retried or reordered delivery, or the same fact from the history import, is a duplicate.
Payload shapes: every event has `event`; most carry a `meeting` object (`id`, `sessionId`,
`title`, `startedAt`, `endedAt` which may be null), `meeting.chatSynced` is flat (`meetingId`,
`sessionId` at the top level). Times come as `2026-06-03T10:00:00.000Z` or
`2026-06-03 10:00:00.123456Z`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rtk_sessions.integrations import realtimekit_ids as ids
from rtk_sessions.kit.errors import BadRequest
from rtk_sessions.kit.timeutil import parse_rfc3339_ms

CHAT, TRANSCRIPT, SUMMARY = "chat", "transcript", "summary"
# The payload member holding each file's link, by webhook event.
DOWNLOADS = {
    "meeting.chatSynced": (CHAT, "chatDownloadUrl"),
    "meeting.transcript": (TRANSCRIPT, "transcriptDownloadUrl"),
    "meeting.summary": (SUMMARY, "summaryDownloadUrl"),
}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Download:
    """A file RealtimeKit made for a session, to fetch and turn into events or a summary."""

    kind: str
    session_id: str
    meeting_id: str
    url: str
    session_started_at: int | None  # RealtimeKit's meeting.startedAt: transcript offsets' zero


@dataclass(frozen=True)
class Meaning:
    """What one delivery becomes; `ignored` names an event type we take nothing from."""

    events: list[dict[str, Any]]
    download: Download | None = None
    ignored: str | None = None


def parse_time(value: object, where: str) -> int:
    """Epoch ms of either of RealtimeKit's timestamp forms."""
    ms = parse_rfc3339_ms(value) if isinstance(value, str) else None
    if ms is None:
        raise BadRequest(
            f"{where}: not a timestamp (got {str(value)[:60]!r}); expected e.g. "
            "'2026-06-03T10:00:00.000Z'"
        )
    return ms


def _text(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{where}.{key}: required, a non-empty string")
    return value


def _optional_text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def _object(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise BadRequest(f"{key}: required, an object")
    return value


def session_id_of(value: str) -> str | None:
    """RealtimeKit's session id as our `session_id` (a lower-case UUID), if it is one."""
    lowered = value.lower()
    return lowered if _UUID.fullmatch(lowered) else None


def meaning(payload: Any, now: int) -> Meaning:
    """The events and the download one webhook payload stands for; 400 when a member we
    need is missing or malformed (RealtimeKit does not retry a 4xx)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise BadRequest("the body is not a RealtimeKit webhook: a JSON object with 'event'")
    kind = payload["event"]
    if kind == "meeting.chatSynced":  # the flat shape
        flat_session = _text(payload, "sessionId", "body")
        return _download(payload, kind, _text(payload, "meetingId", "body"),
                         session_id_of(flat_session) or flat_session, None)  # fmt: skip
    if kind not in ("meeting.started", "meeting.ended", "meeting.participantJoined",
                    "meeting.participantLeft", *DOWNLOADS):  # fmt: skip
        return Meaning([], ignored=kind)
    meeting = _object(payload, "meeting")
    meeting_id = _text(meeting, "id", "meeting")
    raw_session = _text(meeting, "sessionId", "meeting")
    session = session_id_of(raw_session) or raw_session  # one spelling for ids and lookups
    if kind in DOWNLOADS:
        started = meeting.get("startedAt")
        started_ms = None if started is None else parse_time(started, "meeting.startedAt")
        return _download(payload, kind, meeting_id, session, started_ms)
    if kind == "meeting.started":
        started = parse_time(meeting.get("startedAt"), "meeting.startedAt")
        event = {"id": ids.session_started(session), "type": "meeting.updated",
                 "occurred_at": started, "meeting_id": meeting_id}  # fmt: skip
        if title := _optional_text(meeting, "title"):
            event["title"] = title[:256]
        return Meaning([event])
    if kind == "meeting.ended":
        ended = meeting.get("endedAt")
        event = {"id": ids.session_ended(session), "type": "meeting.ended",
                 "occurred_at": now if ended is None else parse_time(ended, "meeting.endedAt"),
                 "meeting_id": meeting_id}  # fmt: skip
        if reason := _optional_text(payload, "reason"):
            event["reason"] = reason[:128]
        return Meaning([event])
    return Meaning(
        _peer_events(kind, meeting, meeting_id, session, _object(payload, "participant"))
    )


def _peer_events(
    kind: str, meeting: dict[str, Any], meeting_id: str, session: str, participant: dict[str, Any]
) -> list[dict[str, Any]]:
    """A join, and for a leave the join it carries too (its `joinedAt`), so a leave that
    overtakes its join, or a join that never arrives, still makes a complete visit."""
    peer = _text(participant, "peerId", "participant")
    events = []
    joined = participant.get("joinedAt")
    if kind == "meeting.participantJoined" or joined is not None:
        join: dict[str, Any] = {
            "id": ids.peer_joined(peer),
            "type": "peer.joined",
            "occurred_at": parse_time(joined, "participant.joinedAt"),
            "meeting_id": meeting_id,
            "peer_id": peer,
        }
        if sid := session_id_of(session):
            join["session_id"] = sid
        if name := _optional_text(participant, "userDisplayName"):
            join["display_name"] = name[:256]
        custom = _optional_text(participant, "customParticipantId") or _optional_text(
            participant, "clientSpecificId"
        )
        if custom:
            join["custom_participant_id"] = custom[:256]
            join["user_id"] = custom[:256]
        if title := _optional_text(meeting, "title"):
            join["meeting_title"] = title[:256]
        events.append(join)
    if kind == "meeting.participantLeft":
        events.append({
            "id": ids.peer_left(peer),
            "type": "peer.left",
            "occurred_at": parse_time(participant.get("leftAt"), "participant.leftAt"),
            "meeting_id": meeting_id,
            "peer_id": peer,
        })  # fmt: skip
    return events


def _download(
    payload: dict[str, Any], kind: str, meeting_id: str, session: str, started: int | None
) -> Meaning:
    file_kind, member = DOWNLOADS[kind]
    url = _text(payload, member, "body")
    if not url.startswith("https://"):
        raise BadRequest(f"{member}: only https:// links are downloaded")
    return Meaning([], Download(file_kind, session, meeting_id, url, started))
