"""Which webhook events a change of derived sessions owes, and the pure delivery rules:
what is retried, how long to wait, what a webhook's fields may be."""

from __future__ import annotations

import random
from typing import Any

import pytest

from rtk_sessions.kit.errors import BadRequest
from rtk_sessions.webhooks.delivery import backoff_ms, classify, retry_after_ms
from rtk_sessions.webhooks.events import PeerState, SessionState, changes, file_event, with_link
from rtk_sessions.webhooks.model import WebhookSpec, full_spec, patched_spec

MIN = 60_000
T = 1_780_000_000_000


def peer(pid: str, joined: int, left: int | None = None) -> PeerState:
    return PeerState(
        pid, f"Name {pid}", None, T + joined * MIN, None if left is None else T + left * MIN
    )


def session(sid: str, *peers: PeerState, ended: int | None = None) -> SessionState:
    start = min(p.joined_at for p in peers)
    return SessionState(sid, "m", "Title", start, None if ended is None else T + ended * MIN, peers)


def names(events: list[Any]) -> list[tuple[str, str]]:
    return [(e.name, e.key) for e in events]


def test_a_new_session_that_already_ended_sends_everything_in_time_order() -> None:
    s = session("s1", peer("a", 0, 3), peer("b", 1, 2), ended=3)
    events = changes("app", [], [s])
    assert [e.export for e in events[-2:]] == ["chat", "transcript"]  # exported at sending
    assert names(events) == [
        ("meeting.started", "started:s1"),
        ("meeting.participantJoined", "joined:s1:a"),
        ("meeting.participantJoined", "joined:s1:b"),
        ("meeting.participantLeft", "left:s1:b"),
        ("meeting.participantLeft", "left:s1:a"),
        ("meeting.ended", "ended:s1"),
        ("meeting.chatSynced", "meeting.chatSynced:s1:ended"),
        ("meeting.transcript", "meeting.transcript:s1:ended"),
    ]


def test_nothing_changed_sends_nothing() -> None:
    s = session("s1", peer("a", 0, 3), ended=3)
    assert changes("app", [s], [s]) == []


def test_only_the_change_is_sent() -> None:
    before = session("s1", peer("a", 0))
    after = session("s1", peer("a", 0, 5), peer("b", 1, 5), ended=5)
    assert names(changes("app", [before], [after])) == [
        ("meeting.participantJoined", "joined:s1:b"),
        ("meeting.participantLeft", "left:s1:a"),
        ("meeting.participantLeft", "left:s1:b"),
        ("meeting.ended", "ended:s1"),
        ("meeting.chatSynced", "meeting.chatSynced:s1:ended"),
        ("meeting.transcript", "meeting.transcript:s1:ended"),
    ]


def test_a_merge_adds_peers_to_the_survivor_and_starts_nothing() -> None:
    s1 = session("s1", peer("a", 0, 1), ended=1)
    s2 = session("s2", peer("b", 10, 11), ended=11)
    merged = session("s1", peer("a", 0, 1), peer("c", 0, 10), peer("b", 10, 11), ended=11)
    assert names(changes("app", [s1, s2], [merged])) == [
        ("meeting.participantJoined", "joined:s1:c"),
        ("meeting.participantJoined", "joined:s1:b"),  # at the time c left: joins go first
        ("meeting.participantLeft", "left:s1:c"),
        ("meeting.participantLeft", "left:s1:b"),
    ]


def test_the_end_reason_follows_a_host_end_at_the_end_time() -> None:
    s = session("s1", peer("a", 0, 5), ended=5)
    [ended] = [
        e for e in changes("app", [], [s], frozenset({T + 5 * MIN})) if e.name == "meeting.ended"
    ]
    assert ended.payload["reason"] == "HOST_ENDED_MEETING"
    [ended] = [
        e for e in changes("app", [], [s], frozenset({T + 4 * MIN})) if e.name == "meeting.ended"
    ]
    assert ended.payload["reason"] == "ALL_PARTICIPANTS_LEFT"


def test_payload_shapes() -> None:
    s = session("s1", peer("a", 0, 5), ended=5)
    by_name = {e.name: e.payload for e in changes("app-1", [], [s])}
    meeting = by_name["meeting.started"]["meeting"]
    assert meeting == {
        "id": "m", "sessionId": "s1", "title": "Title", "roomName": "m", "status": "LIVE",
        "createdAt": "2026-05-28T20:26:40.000Z", "startedAt": "2026-05-28T20:26:40.000Z",
        "organizedBy": {"id": "app-1", "name": "app-1"},
    }  # fmt: skip
    assert by_name["meeting.ended"]["meeting"]["endedAt"] == "2026-05-28T20:31:40.000Z"
    assert by_name["meeting.participantJoined"]["participant"] == {
        "peerId": "a", "userDisplayName": "Name a", "customParticipantId": None,
        "clientSpecificId": None, "joinedAt": "2026-05-28T20:26:40.000Z",
    }  # fmt: skip
    assert by_name["meeting.participantLeft"]["participant"]["leftAt"] == "2026-05-28T20:31:40.000Z"


def test_file_events_get_their_link_at_sending() -> None:
    s = session("s1", peer("a", 0, 5), ended=5)
    chat = file_event("app", s, "meeting.chatSynced", "v1")
    assert chat.key == "meeting.chatSynced:s1:v1" and chat.payload["chatDownloadUrl"] is None
    linked = with_link(chat.payload, "https://x/chat.csv", T)
    assert linked["chatDownloadUrl"] == "https://x/chat.csv"
    assert linked["chatDownloadUrlExpiry"] == "2026-05-28T20:26:40.000Z"
    summary = with_link(file_event("app", s, "meeting.summary", "v").payload, "u", T)
    assert set(summary) == {"event", "meeting", "summaryDownloadUrl", "summaryDownloadUrlExpiry"}


@pytest.mark.parametrize(
    ("status", "retry"),
    [(200, False), (204, False), (301, False), (400, False), (404, False), (408, True),
     (429, True), (500, True), (503, True)],
)  # fmt: skip
def test_which_answers_are_retried(status: int, retry: bool) -> None:
    error, retried = classify(status)
    assert retried is retry
    assert (error is None) is (200 <= status < 300)


def test_backoff_doubles_with_jitter_up_to_six_hours() -> None:
    rng = random.Random(1)
    for attempt in range(1, 15):
        wait = backoff_ms(attempt, 60_000, rng)
        full = min(60_000 * 2 ** (attempt - 1), 6 * 3600 * 1000)
        assert 0.8 * full <= wait <= full
    total = sum(min(60_000 * 2 ** (a - 1), 6 * 3600 * 1000) for a in range(1, 12))
    assert 18 * 3600 * 1000 < total < 24 * 3600 * 1000  # 12 attempts span about a day


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = 1_780_000_000_000
    assert retry_after_ms("120", now) == 120_000
    assert retry_after_ms("Thu, 28 May 2026 20:28:40 GMT", now) == 120_000
    assert retry_after_ms("999999999", now) == 24 * 3600 * 1000
    assert retry_after_ms("soon", now) is None
    assert retry_after_ms(None, now) is None


def test_patch_keeps_what_it_does_not_name() -> None:
    current = WebhookSpec("n", "https://e.com/", ("meeting.ended",), True)
    assert patched_spec(current, {"enabled": False}) == WebhookSpec(
        "n", "https://e.com/", ("meeting.ended",), False
    )
    with pytest.raises(BadRequest, match="missing required fields: name, url"):
        full_spec({"events": ["meeting.ended"]})
    with pytest.raises(BadRequest, match="control characters"):
        full_spec({"name": "n", "url": "https://e.com/a b", "events": ["meeting.ended"]})
