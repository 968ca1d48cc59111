"""The pure mapping of RealtimeKit's history into events: ids kept, times placed, edits seen."""

from __future__ import annotations

import pytest

from rtk_sessions.ingest.validation import check_batch
from rtk_sessions.integrations import history
from rtk_sessions.integrations import realtimekit_ids as ids
from rtk_sessions.integrations.history import SourceError, SourceSession

SID = "0b7c1f2e-9d4a-4c3b-8e2f-1a2b3c4d5e6f"
NOW = 1_790_000_000_000


def _session(**extra: object) -> SourceSession:
    data = {
        "id": SID,
        "associated_id": "meet-1",
        "meeting_display_name": "Standup",
        "type": "meeting",
        "status": "ENDED",
        "started_at": "2026-06-03T10:00:00.000Z",
        "updated_at": "2026-06-03T11:00:00.000Z",
        **extra,
    }
    return SourceSession.from_api(data)


def test_participants_keep_ids_and_become_valid_events() -> None:
    s = _session(meta={"b": 1, "a": [1]})
    participant = {
        "id": "peer-1",
        "user_id": "u-1",
        "display_name": "Ada",
        "custom_participant_id": "",
        "joined_at": "2026-06-03T10:00:00.000Z",
        "left_at": "2026-06-03T10:30:00.500Z",
        "peer_events": [{"event_name": "PEER_JOINING", "preset_view_type": "WEBINAR",
                         "socket_session_id": "sock-1"}],
    }  # fmt: skip
    events = history.session_events(s, [participant], "parent-meeting")
    update, join, leave = events
    assert update["title"] == "Standup" and update["meta"] == {"b": 1, "a": [1]}
    assert join["id"] == ids.peer_joined("peer-1") and join["session_id"] == SID
    assert join["parent_meeting_id"] == "parent-meeting"
    assert (join["preset_view_type"], join["socket_session_id"]) == ("WEBINAR", "sock-1")
    assert "custom_participant_id" not in join  # empty: left out, not sent as ""
    assert leave == {"id": ids.peer_left("peer-1"), "type": "peer.left", "meeting_id": "meet-1",
                     "occurred_at": 1780482600500, "peer_id": "peer-1"}  # fmt: skip
    check_batch(events, NOW)  # ingestion takes them as they are
    # The same content gives the same update id; a rename a new one.
    assert history.meeting_update(_session(meta={"a": [1], "b": 1}))["id"] == update["id"]
    assert history.meeting_update(_session(meeting_display_name="Retro"))["id"] != update["id"]


def test_a_session_id_that_is_not_a_lower_case_uuid_is_not_claimed() -> None:
    s = _session(id=SID.upper())
    participant = {"id": "p", "joined_at": "2026-06-03T10:00:00Z"}
    [_, join] = history.session_events(s, [participant], None)
    assert "session_id" not in join and "parent_meeting_id" not in join


def test_chat_rows_and_later_edits() -> None:
    text = (
        "id,participantId,sessionId,meetingId,displayName,pinned,isEdited,payloadType,payload,"
        'createdAt\r\nm1,peer-1,s,meet-1,Ada,false,false,TEXT_MESSAGE,"a, ""b""\nc",'
        "2026-06-03T10:01:00.000Z\r\n"
    )
    [line] = history.chat_lines(text)
    assert (line.message_id, line.payload, line.created_at_ms) == ("m1", 'a, "b"\nc', 1780480860000)
    s = _session()
    [first] = history.chat_events(s, [line], {}, NOW)
    assert first["id"] == ids.chat_message(SID, "m1") and first["occurred_at"] == 1780480860000
    same = ("TEXT_MESSAGE", 'a, "b"\nc', False, False)
    assert len(history.chat_events(s, [line], {"m1": same}, NOW)) == 1  # unchanged: no restatement
    older = ("TEXT_MESSAGE", "before the edit", False, False)
    _, restated = history.chat_events(s, [line], {"m1": older}, NOW)
    assert restated["occurred_at"] == NOW and restated["payload"] == 'a, "b"\nc'
    check_batch([first, restated], NOW)
    with pytest.raises(SourceError, match="no column createdAt"):
        history.chat_lines("id,participantId,payload\r\n")


def test_transcript_times_are_placed_from_the_session_start() -> None:
    s = _session()
    entries = [{"startTime": 1500, "endTime": 4000, "sentence": "hi", "peerData": {"id": "p"}}]
    [segment] = history.transcript_events(s, entries)
    assert (segment["started_at"], segment["ended_at"]) == (1780480801500, 1780480804000)
    assert segment["id"] == ids.transcript_segment(SID, "p", 1780480801500, "hi")
    with pytest.raises(SourceError, match="entry 0"):
        history.transcript_events(s, [{"sentence": "no speaker"}])


def test_what_a_resumed_run_reads_again() -> None:
    ended, live = _session(), _session(status="LIVE")
    assert history.wants_import(ended, {})
    assert not history.wants_import(ended, {SID: ended.mark})
    assert history.wants_import(_session(updated_at="2026-06-04T00:00:00Z"), {SID: ended.mark})
    assert history.wants_import(live, {SID: live.mark})  # LIVE: always again
    with pytest.raises(SourceError, match="started_at"):
        _session(started_at="yesterday")
