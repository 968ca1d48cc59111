"""What RealtimeKit webhook payloads and files become, and which addresses downloads refuse."""

from __future__ import annotations

import pytest

from rtk_sessions.integrations import realtimekit_ids as ids
from rtk_sessions.integrations.realtimekit_events import meaning, parse_time
from rtk_sessions.integrations.realtimekit_files import (
    FileRefused,
    chat_events,
    transcript_events,
)
from rtk_sessions.kit.errors import BadRequest
from rtk_sessions.kit.fetch import FetchError, check_url, public_address
from rtk_sessions.kit.timeutil import parse_rfc3339_ms
from support import ONCE

pytestmark = ONCE
SID = "05E57591-D89E-45C9-AE44-08DC1EAAD0E0"
MEETING = {"id": "bbb8940e", "sessionId": SID, "title": "Weekly sync",
           "startedAt": "2026-06-03T10:00:00.000Z", "endedAt": None}  # fmt: skip


def test_both_timestamp_forms() -> None:
    assert parse_time("2026-06-03T10:00:00.000Z", "x") == parse_rfc3339_ms("2026-06-03T10:00:00Z")
    assert parse_time("2026-06-03 10:00:00.123456Z", "x") % 1000 == 123
    with pytest.raises(BadRequest, match="x: not a timestamp"):
        parse_time(None, "x")


def test_joins_carry_the_session_id_and_the_custom_id() -> None:
    payload = {"event": "meeting.participantJoined", "meeting": MEETING,
               "participant": {"peerId": "p1", "userDisplayName": "Ada",
                               "clientSpecificId": "u-1", "joinedAt": "2026-06-03 10:05:00Z"}}  # fmt: skip
    [join] = meaning(payload, 0).events
    assert join == {"id": ids.peer_joined("p1"), "type": "peer.joined",
                    "occurred_at": parse_rfc3339_ms("2026-06-03T10:05:00Z"),
                    "meeting_id": "bbb8940e", "peer_id": "p1", "session_id": SID.lower(),
                    "display_name": "Ada", "custom_participant_id": "u-1", "user_id": "u-1",
                    "meeting_title": "Weekly sync"}  # fmt: skip


def test_a_leave_brings_its_join_and_an_end_without_time_takes_the_arrival() -> None:
    left = {"event": "meeting.participantLeft", "meeting": MEETING,
            "participant": {"peerId": "p1", "joinedAt": "2026-06-03T10:05:00.000Z",
                            "leftAt": "2026-06-03T10:09:00.000Z"}}  # fmt: skip
    assert [e["type"] for e in meaning(left, 0).events] == ["peer.joined", "peer.left"]
    ended = meaning(
        {"event": "meeting.ended", "meeting": MEETING, "reason": "HOST_ENDED_MEETING"}, 42
    )
    assert ended.events == [{"id": ids.session_ended(SID.lower()), "type": "meeting.ended",
                             "occurred_at": 42, "meeting_id": "bbb8940e",
                             "reason": "HOST_ENDED_MEETING"}]  # fmt: skip


def test_files_flat_chat_and_unknown_events() -> None:
    chat = meaning({"event": "meeting.chatSynced", "meetingId": "m", "sessionId": SID,
                    "chatDownloadUrl": "https://r2.example/c.csv?X-Amz-Signature=s"}, 0)  # fmt: skip
    assert chat.download is not None and (chat.download.kind, chat.download.meeting_id) == (
        "chat",
        "m",
    )
    assert meaning({"event": "recording.statusUpdate", "recording": {}}, 0).ignored == (
        "recording.statusUpdate"
    )
    with pytest.raises(BadRequest, match="only https"):
        meaning({"event": "meeting.summary", "meeting": MEETING,
                 "summaryDownloadUrl": "http://example.com/s.txt"}, 0)  # fmt: skip


def test_file_parsing_refuses_what_is_not_the_format() -> None:
    with pytest.raises(FileRefused, match="lacks the columns"):
        chat_events(b"a,b\r\n1,2\r\n", SID, "m")
    with pytest.raises(FileRefused, match="not UTF-8"):
        transcript_events(b"\xff\xfe", SID, "m", 0)
    with pytest.raises(FileRefused, match="expected 6"):
        transcript_events(b'"1","p"\r\n', SID, "m", 0)
    [segment] = transcript_events(b'"1500","p","","","P","Hi"\r\n', SID, "m", 1_000)
    assert (segment["started_at"], segment["text"]) == (2_500, "Hi")
    assert transcript_events(b"", SID, "m", 0) == []  # an empty transcript is no error


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("2606:4700::1111", True), ("127.0.0.1", False), ("10.1.2.3", False),
     ("192.168.0.1", False), ("169.254.169.254", False), ("100.64.0.1", False), ("::1", False),
     ("fe80::1", False), ("fd00::1", False), ("::ffff:127.0.0.1", False), ("0.0.0.0", False),
     ("224.0.0.1", False)],
)  # fmt: skip
def test_only_public_addresses_are_fetched_by_default(address: str, public: bool) -> None:
    assert public_address(address) is public


def test_only_https_urls_without_credentials() -> None:
    for url in ("http://example.com/a", "https://u:p@example.com/a", "ftp://x", "https:///x"):
        with pytest.raises(FetchError) as refused:
            check_url(url)
        assert refused.value.permanent
    assert check_url("https://example.com:8443/a?b") == ("example.com", 8443)
