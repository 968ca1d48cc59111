"""Which webhook events a change of derived state means, and their payloads (docs/webhooks.md).

Pure: given a meeting's sessions before and after a derivation, the events it owes, each
with a key naming the state change (`started:<session id>`, `joined:<session id>:<peer id>`
...). The outbox keeps one delivery per webhook and key, so seeing a change again (a
duplicate batch, a late event, the idle sweep after a late leave) never sends it twice, and
"started" is sent at most once per session id whatever happens to the session later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rtk_sessions.kit.timeutil import to_iso

HOST_ENDED, ALL_LEFT = "HOST_ENDED_MEETING", "ALL_PARTICIPANTS_LEFT"


@dataclass(frozen=True)
class PeerState:
    peer_id: str
    display_name: str | None
    custom_participant_id: str | None
    joined_at: int
    left_at: int | None


@dataclass(frozen=True)
class SessionState:
    id: str
    meeting_id: str
    title: str
    started_at: int
    ended_at: int | None  # None while LIVE
    peers: tuple[PeerState, ...]


@dataclass(frozen=True)
class WebhookEvent:
    name: str
    key: str
    meeting_id: str
    payload: dict[str, Any]
    export: str | None = None  # the session's chat or transcript, exported when it is sent


def meeting_object(app_id: str, s: SessionState, *, ended: bool) -> dict[str, Any]:
    """RealtimeKit's common `meeting` object. `status` is "LIVE" in every payload, as in
    every RealtimeKit example (docs/webhooks.md)."""
    meeting: dict[str, Any] = {
        "id": s.meeting_id,
        "sessionId": s.id,
        "title": s.title,
        "roomName": s.meeting_id,
        "status": "LIVE",
        "createdAt": to_iso(s.started_at),
        "startedAt": to_iso(s.started_at),
    }
    if ended and s.ended_at is not None:
        meeting["endedAt"] = to_iso(s.ended_at)
    meeting["organizedBy"] = {"id": app_id, "name": app_id}
    return meeting


def _participant(p: PeerState) -> dict[str, Any]:
    out: dict[str, Any] = {
        "peerId": p.peer_id,
        "userDisplayName": p.display_name,
        "customParticipantId": p.custom_participant_id,
        "clientSpecificId": p.custom_participant_id,  # deprecated duplicate, as RealtimeKit
        "joinedAt": to_iso(p.joined_at),
    }
    if p.left_at is not None:
        out["leftAt"] = to_iso(p.left_at)
    return out


def changes(
    app_id: str,
    old: Sequence[SessionState],
    new: Sequence[SessionState],
    host_ends: frozenset[int] = frozenset(),
) -> list[WebhookEvent]:
    """The events from `old` to `new` (one meeting), in the order they happened.

    A session appearing sends `meeting.started`; one that is ENDED now and was not (or did
    not exist) sends `meeting.ended`, then `meeting.chatSynced` and `meeting.transcript`
    (their files exported when they are sent; not sent if there is nothing to export), reason HOST_ENDED_MEETING when a `meeting.ended` event
    at its end time ended it, else ALL_PARTICIPANTS_LEFT (the idle sweep included). A peer
    new to a session sends `participantJoined`; one that has left now and had not sends
    `participantLeft`. A session that a late event merged into another disappears without
    an event of its own: its peers join the surviving session, whose id it never takes.
    """
    before = {s.id: s for s in old}
    timed: list[tuple[int, int, WebhookEvent]] = []

    def add(at: int, rank: int, key: str, payload: dict[str, Any]) -> None:
        meeting_id = payload["meeting"]["id"]
        timed.append((at, rank, WebhookEvent(payload["event"], key, meeting_id, payload)))

    for s in new:
        prior = before.get(s.id)
        live_meeting = meeting_object(app_id, s, ended=False)
        if prior is None:
            add(s.started_at, 0, f"started:{s.id}",
                {"event": "meeting.started", "meeting": live_meeting})  # fmt: skip
        old_peers = {p.peer_id: p for p in prior.peers} if prior else {}
        for p in s.peers:
            was = old_peers.get(p.peer_id)
            if was is None:
                add(p.joined_at, 1, f"joined:{s.id}:{p.peer_id}", {
                    "event": "meeting.participantJoined",
                    "meeting": live_meeting, "participant": _participant(
                        PeerState(p.peer_id, p.display_name, p.custom_participant_id,
                                  p.joined_at, None)),
                })  # fmt: skip
            if p.left_at is not None and (was is None or was.left_at is None):
                add(p.left_at, 2, f"left:{s.id}:{p.peer_id}", {
                    "event": "meeting.participantLeft",
                    "meeting": meeting_object(app_id, s, ended=True),
                    "participant": _participant(p),
                })  # fmt: skip
        if s.ended_at is not None and (prior is None or prior.ended_at is None):
            reason = HOST_ENDED if s.ended_at in host_ends else ALL_LEFT
            add(s.ended_at, 3, f"ended:{s.id}", {
                "event": "meeting.ended",
                "meeting": meeting_object(app_id, s, ended=True), "reason": reason,
            })  # fmt: skip
            for rank, name in ((4, "meeting.chatSynced"), (5, "meeting.transcript")):
                exported = file_event(app_id, s, name, "ended")
                timed.append((s.ended_at, rank, replace(exported, export=FILE_EVENTS[name])))
    timed.sort(key=lambda t: (t[0], t[1], t[2].key))
    return [e for _, _, e in timed]


FILE_EVENTS = {
    "meeting.chatSynced": "chat",
    "meeting.transcript": "transcript",
    "meeting.summary": "summary",
}


def file_event(app_id: str, s: SessionState, name: str, version: str) -> WebhookEvent:
    """`meeting.chatSynced` (flat, as RealtimeKit sends it), `meeting.transcript` or
    `meeting.summary`: a session's file is ready. The link fields are filled with a fresh
    link at each attempt (`with_link`); `version` names the file's content, so a new
    version is sent again and the same one never twice."""
    field = FILE_EVENTS[name]
    payload: dict[str, Any]
    if name == "meeting.chatSynced":
        payload = {
            "event": name,
            "sessionId": s.id,
            "meetingId": s.meeting_id,
            "title": s.title,
            "chatDownloadUrl": None,
            "chatDownloadUrlExpiry": None,
            "createdAt": to_iso(s.started_at),
            "startedAt": to_iso(s.started_at),
            "endedAt": None if s.ended_at is None else to_iso(s.ended_at),
            "organizedBy": {"id": app_id, "name": app_id},
        }
    else:
        payload = {
            "event": name,
            "meeting": meeting_object(app_id, s, ended=True),
            f"{field}DownloadUrl": None,
            f"{field}DownloadUrlExpiry": None,
        }
    return WebhookEvent(name, f"{name}:{s.id}:{version}", s.meeting_id, payload)


def with_link(payload: dict[str, Any], url: str, expires_ms: int) -> dict[str, Any]:
    """A file event's payload carrying this link."""
    field = FILE_EVENTS[payload["event"]]
    return {
        **payload,
        f"{field}DownloadUrl": url,
        f"{field}DownloadUrlExpiry": to_iso(expires_ms),
    }
