"""validate_events: common fields, every event type's rules, error reporting, speed."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.ingest.schemas import EVENT_TYPES, ValidEvent
from rtk_sessions.ingest.validation import (
    MAX_PROBLEMS_PER_EVENT,
    check_batch,
    validate_events,
)
from rtk_sessions.kit.errors import BadRequest
from rtk_sessions.kit.timeutil import (
    EPOCH_2000_MS,
    FUTURE_TOLERANCE_MS,
    parse_rfc3339_ms,
    rfc3339_ms,
)

NOW = 1_780_480_800_000  # 2026-06-03T10:00:00.000Z
T0 = "2026-06-03T09:00:00.000Z"
T0_MS = NOW - 3_600_000

SAMPLE: dict[str, Any] = {
    "timestamp": T0,
    "kind": "video",
    "direction": "inbound",
    "ssrc": 1234,
    "source": "camera",
    "pc_id": "pc-1",
    "packets_received": 100,
    "packets_lost": 0,
    "bytes_received": 123_456,
    "jitter": 0.004,
    "round_trip_time": 0.05,
    "frames_decoded": 30,
    "frames_per_second": 29.97,
    "quality_limitation_reason": "none",
    "quality_limitation_durations": {"cpu": 0, "bandwidth": 1.5, "none": 100, "other": 0},
}
EXTRA: dict[str, dict[str, Any]] = {
    "meeting.updated": {"title": "Standup", "session_type": "livestream", "meta": {"a": [1]}},
    "peer.joined": {
        "peer_id": "peer-1",
        "user_id": "user-1",
        "custom_participant_id": "cp-1",
        "display_name": "Ada",
        "preset_name": "host",
        "preset_view_type": "WEBINAR",
        "meeting_title": "Standup",
        "parent_meeting_id": "parent-1",
        "socket_session_id": "sock-1",
    },
    "peer.left": {"peer_id": "peer-1", "reason": "bye"},
    "meeting.ended": {"reason": "HOST_ENDED_MEETING"},
    "chat.message": {
        "message_id": "msg-1",
        "peer_id": "peer-1",
        "payload_type": "IMAGE_MESSAGE",
        "payload": "https://example.com/a.png",
        "pinned": True,
        "is_edited": False,
    },
    "transcript.segment": {
        "peer_id": "peer-1",
        "text": "hello",
        "started_at": "2026-06-03T08:59:58.500Z",
        "ended_at": "2026-06-03T09:00:00Z",
        "language": "en-US",
        "is_partial": False,
    },
    "peer.metadata": {
        "peer_id": "peer-1",
        "device_info": {"cpus": 8, "is_mobile": False, "os": "macOS", "os_version": None},
        "user_agent": "Mozilla/5.0",
        "browser_metadata": {"browser": "Chrome"},
        "sdk_name": "web-core",
        "sdk_type": "web",
        "sdk_version": "1.2.3",
        "room_view_type": "GROUP_CALL",
        "native_metadata": {"audio_encoder": "opus", "video_encoder": None},
        "ip": "2001:db8::1",
        "ip_information": {"country": "DE"},
        "pc_metadata": {"effective_network_type": "4g", "turn_connectivity": True, "sdp": []},
        "devices_update": {
            "kind": "speaker",
            "added": [{"device_id": "d1", "kind": "audiooutput", "label": "Speakers"}],
            "removed": [],
        },
        "selected_device": {"device_id": "d1", "kind": "audioinput", "label": None},
        "candidate_pair": {"transport": "producing", "local_candidate_type": "host"},
    },
    "peer.event": {
        "peer_id": "peer-1",
        "name": "audio_off",
        "metadata": {"reason": "user", "n": 1, "ok": True, "x": None, "f": 0.5},
    },
    "peer.stats": {"peer_id": "peer-1", "samples": [SAMPLE, {**SAMPLE, "ssrc": 0}]},
}


def event(etype: str, **changes: Any) -> dict[str, Any]:
    """A valid event of `etype` with every optional field set, then `changes` applied
    (a value of `...` removes the field)."""
    ev: dict[str, Any] = {"id": "evt-1", "type": etype, "occurred_at": T0, "meeting_id": "m-1"}
    ev.update(copy.deepcopy(EXTRA[etype]))
    for key, value in changes.items():
        if value is ...:
            ev.pop(key, None)
        else:
            ev[key] = value
    return ev


def errors_of(*events: Any) -> list[dict[str, Any]]:
    return validate_events(list(events), NOW)[1]


def messages(*events: Any) -> list[str]:
    return [e["message"] for e in errors_of(*events)]


# --- valid events ------------------------------------------------------------------------


@pytest.mark.parametrize("etype", EVENT_TYPES)
def test_every_type_with_all_fields_is_valid(etype: str) -> None:
    raw = event(etype, unknown_extra={"ignored": True})
    valid, errors = validate_events([raw], NOW)
    assert errors == []
    peer_id = "peer-1" if "peer_id" in raw else None
    place_at = T0_MS - 1500 if etype == "transcript.segment" else T0_MS
    assert valid == [ValidEvent("evt-1", etype, "m-1", T0_MS, place_at, peer_id, raw)]
    assert valid[0].raw is raw


@pytest.mark.parametrize("etype", EVENT_TYPES)
def test_every_type_with_only_required_fields_is_valid(etype: str) -> None:
    required = {
        "peer.joined": ["peer_id"],
        "peer.left": ["peer_id"],
        "chat.message": ["message_id", "peer_id", "payload"],
        "transcript.segment": ["peer_id", "text"],
        "peer.metadata": ["peer_id"],
        "peer.event": ["peer_id", "name"],
        "peer.stats": ["peer_id", "samples"],
    }.get(etype, [])
    raw = {key: value for key, value in event(etype).items() if key in required}
    raw.update(id="e", type=etype, occurred_at=T0_MS, meeting_id="m")
    valid, errors = validate_events([raw], NOW)
    assert errors == []
    assert valid[0].place_at == T0_MS  # transcript without started_at: occurred_at


def test_valid_events_keep_input_order_and_empty_batch() -> None:
    batch = [event("peer.left", id=f"e{i}") for i in range(5)]
    valid, errors = validate_events(batch, NOW)
    assert errors == []
    assert [v.id for v in valid] == ["e0", "e1", "e2", "e3", "e4"]
    assert validate_events([], NOW) == ([], [])


@pytest.mark.parametrize(
    ("occurred_at", "expected_ms"),
    [
        ("2026-06-03T09:00:00Z", T0_MS),
        ("2026-06-03T09:00:00.123987Z", T0_MS + 123),  # truncated, not rounded
        ("2026-06-03T09:00:00.9999999Z", T0_MS + 999),
        ("2026-06-03T11:00:00.5+02:00", T0_MS + 500),
        ("2026-06-03T08:30:00-00:30", T0_MS),
        ("2026-06-03t09:00:00z", T0_MS),
        ("2026-06-03 09:00:00Z", T0_MS),
        (T0_MS, T0_MS),
        (EPOCH_2000_MS, EPOCH_2000_MS),
        (NOW + FUTURE_TOLERANCE_MS, NOW + FUTURE_TOLERANCE_MS),
    ],
)
def test_accepted_timestamps(occurred_at: Any, expected_ms: int) -> None:
    valid, errors = validate_events([event("meeting.ended", occurred_at=occurred_at)], NOW)
    assert errors == []
    assert valid[0].occurred_at == expected_ms


# --- common fields -----------------------------------------------------------------------

ID_RULE = "1–128 characters A-Z, a-z, 0-9, '.', '_', ':' or '-'"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"id": ...}, "events[0].id: required for every event"),
        ({"id": 7}, f"events[0].id: must be a string of {ID_RULE}, not an integer"),
        ({"id": ""}, f"events[0].id: must be {ID_RULE} (got '')"),
        ({"id": "a b"}, f"events[0].id: must be {ID_RULE} (got 'a b')"),
        ({"id": "x" * 129}, f"events[0].id: must be {ID_RULE} (got '{'x' * 58}…)"),
        ({"id": "évt"}, f"events[0].id: must be {ID_RULE} (got 'évt')"),
        ({"type": ...}, "events[0].type: required for every event"),
        (
            {"type": "peer.join"},
            "events[0].type: 'peer.join' is not a known type; use one of "
            + ", ".join(EVENT_TYPES),
        ),
        ({"type": None}, "events[0].type: must be a string, one of meeting.updated, "),
        ({"meeting_id": ...}, "events[0].meeting_id: required for every event"),
        ({"meeting_id": "m/1"}, f"events[0].meeting_id: must be {ID_RULE} (got 'm/1')"),
        ({"occurred_at": ...}, "events[0].occurred_at: required for every event"),
        ({"occurred_at": "yesterday"}, "events[0].occurred_at: not an RFC 3339 timestamp (got 'yesterday'); use e.g. '2026-06-03T10:00:00.000Z'"),
        ({"occurred_at": "2026-06-03T09:00:00"}, "events[0].occurred_at: not an RFC 3339 timestamp"),
        ({"occurred_at": "2026-06-03"}, "events[0].occurred_at: not an RFC 3339 timestamp"),
        ({"occurred_at": "2026-13-03T09:00:00Z"}, "events[0].occurred_at: not an RFC 3339 timestamp"),
        ({"occurred_at": "2026-06-03T09:00:60Z"}, "events[0].occurred_at: not an RFC 3339 timestamp"),
        ({"occurred_at": True}, "events[0].occurred_at: must be an RFC 3339 timestamp string or integer epoch milliseconds, not a boolean"),
        ({"occurred_at": 1.78e12}, "events[0].occurred_at: must be an RFC 3339 timestamp string or integer epoch milliseconds, not a number"),
        ({"occurred_at": None}, "events[0].occurred_at: must be an RFC 3339 timestamp string or integer epoch milliseconds, not null"),
        ({"occurred_at": "1999-12-31T23:59:59.999Z"}, "events[0].occurred_at: 1999-12-31T23:59:59.999Z is before 2000-01-01T00:00:00Z"),
        ({"occurred_at": 1_780_477_200}, "events[0].occurred_at: 1780477200 (1970-01-21T14:34:37.200Z) is before 2000-01-01T00:00:00Z; integer timestamps are epoch milliseconds"),
        ({"occurred_at": -5}, "events[0].occurred_at: -5 is before 2000-01-01T00:00:00Z; integer timestamps are epoch milliseconds"),
        ({"occurred_at": "2031-01-01T00:00:00Z"}, "events[0].occurred_at: 2031-01-01T00:00:00Z is more than 5 minutes in the future (server time is 2026-06-03T10:00:00.000Z); check the producer's clock"),
        ({"occurred_at": NOW + FUTURE_TOLERANCE_MS + 1}, "events[0].occurred_at: 1780481100001 (2026-06-03T10:05:00.001Z) is more than 5 minutes in the future"),
        ({"occurred_at": 10**20}, "events[0].occurred_at: 100000000000000000000 is more than 5 minutes in the future"),
    ],
)  # fmt: skip
def test_common_field_errors(changes: dict[str, Any], expected: str) -> None:
    errors = errors_of(event("meeting.ended", **changes))
    assert len(errors) == 1, errors
    assert errors[0]["message"].startswith(expected)
    assert errors[0]["index"] == 0 and errors[0]["code"] == 400


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([1], "events[0]: must be a JSON object, not an array"),
        ("evt", "events[0]: must be a JSON object, not a string"),
        (None, "events[0]: must be a JSON object, not null"),
        (3, "events[0]: must be a JSON object, not an integer"),
    ],
)
def test_event_must_be_an_object(raw: Any, expected: str) -> None:
    assert errors_of(raw) == [{"code": 400, "message": expected, "index": 0}]


def test_unknown_type_checks_only_common_fields() -> None:
    raw = {"id": "e", "type": "peer.join", "occurred_at": "nope", "meeting_id": "m"}
    assert [m.split(":")[0] for m in messages(raw)] == ["events[0].type", "events[0].occurred_at"]


def test_every_invalid_event_is_reported_with_index_and_id() -> None:
    batch = [
        event("peer.left"),
        event("peer.joined", id="evt-17", peer_id=...),
        {"type": "peer.left", "occurred_at": T0, "meeting_id": "m", "peer_id": "p"},
        event("chat.message", id=42, payload=...),
        event("peer.left", id="evt-9"),
        event("meeting.updated", id="evt-5", occurred_at="2031-01-01T00:00:00Z", title=3),
    ]
    valid, errors = validate_events(batch, NOW)
    assert [v.id for v in valid] == ["evt-1", "evt-9"]
    assert [(e["index"], e.get("id")) for e in errors] == [
        (1, "evt-17"), (2, None), (3, None), (3, None), (5, "evt-5"), (5, "evt-5"),
    ]  # fmt: skip
    assert errors[0] == {
        "code": 400,
        "message": "events[1].peer_id: required for peer.joined",
        "index": 1,
        "id": "evt-17",
    }
    assert "id" not in errors[1] and "id" not in errors[2]
    assert [e["message"].split(":")[0] for e in errors[1:]] == [
        "events[2].id", "events[3].id", "events[3].payload", "events[5].occurred_at",
        "events[5].title",
    ]  # fmt: skip


def test_problems_per_event_are_capped() -> None:
    bad_sample = {"timestamp": T0, "kind": "x", "direction": "inbound", "ssrc": 1}
    errors = errors_of(event("peer.stats", samples=[bad_sample] * 30))
    assert len(errors) == MAX_PROBLEMS_PER_EVENT
    assert errors[0]["message"].startswith("events[0].samples[0].kind: must be one of audio")
    assert errors[-1]["message"] == "events[0]: 11 more problems not listed"


def test_a_refused_batch_lists_100_problems_and_gives_the_totals() -> None:
    """Issue 8: 5,000 invalid events made a 15 MB error body, a 1 MB id was echoed whole."""
    batch = [{"id": "i" * 1_000_000, "type": "nope"}]
    batch += [{"id": f"e{n}", "type": "nope"} for n in range(4999)]
    with pytest.raises(BadRequest) as exc:
        check_batch(batch, NOW)
    # 4 problems for the first event (id, type, meeting_id, occurred_at), 3 for the others.
    assert exc.value.message == (
        "5000 invalid events; nothing was stored (the first 100 of 15001 problems are listed)"
    )
    errors = exc.value.details
    assert len(errors) == 100
    assert errors[0]["id"] == "i" * 199 + "…"
    assert errors[0]["message"].startswith("events[0].id: must be 1–128 characters")
    assert errors[-1]["index"] == 32 and errors[-1]["id"] == "e31"
    assert len(msgspec.json.encode(errors)) < 30_000


def test_echoed_keys_are_cut_short() -> None:
    bad = event("peer.event", name="n", metadata={"k" * 5000: {"nested": 1}})
    [error] = errors_of(bad)
    path = ".metadata." + "k" * 5000
    assert error["message"] == (
        f"events[0]{path[:199]}…: must be a scalar (string, number, boolean or null), not an object"
    )


def test_a_refused_batch_with_few_problems_lists_them_all() -> None:
    with pytest.raises(BadRequest) as exc:
        check_batch([event("meeting.updated"), {"id": "x"}], NOW)
    assert exc.value.message == "1 invalid event; nothing was stored"
    assert len(exc.value.details) == 3


# --- per-type rules ----------------------------------------------------------------------

CASES: list[tuple[str, dict[str, Any], str]] = [
    # meeting.updated
    ("meeting.updated", {"title": "é" * 257}, "title: must be at most 256 characters (got 257)"),
    ("meeting.updated", {"title": 5}, "title: must be a string, not an integer"),
    ("meeting.updated", {"title": None}, "title: must be a string, not null"),
    ("meeting.updated", {"session_type": "webinar"}, "session_type: must be one of meeting, livestream, participant (got 'webinar')"),
    ("meeting.updated", {"meta": []}, "meta: must be an object, not an array"),
    ("meeting.updated", {"meta": {"k": "x" * 16_400}}, "meta: must be at most 16 KiB serialized as JSON (got 16408 bytes)"),
    # peer.joined
    ("peer.joined", {"peer_id": ...}, "peer_id: required for peer.joined"),
    ("peer.joined", {"peer_id": "..."}, "peer_id: must contain a character other than '.' (got '...')"),
    ("peer.joined", {"peer_id": "p 1"}, f"peer_id: must be {ID_RULE} (got 'p 1')"),
    ("peer.joined", {"peer_id": 1}, f"peer_id: must be a string of {ID_RULE}, not an integer"),
    ("peer.joined", {"user_id": ""}, "user_id: must not be empty"),
    ("peer.joined", {"custom_participant_id": "x" * 257}, "custom_participant_id: must be at most 256 characters (got 257)"),
    ("peer.joined", {"display_name": "x" * 257}, "display_name: must be at most 256 characters (got 257)"),
    ("peer.joined", {"display_name": None}, "display_name: must be a string, not null"),
    ("peer.joined", {"preset_name": "x" * 129}, "preset_name: must be at most 128 characters (got 129)"),
    ("peer.joined", {"preset_view_type": "group_call"}, "preset_view_type: must be one of GROUP_CALL, WEBINAR, AUDIO_ROOM, LIVESTREAM, CHAT (got 'group_call')"),
    ("peer.joined", {"meeting_title": "x" * 257}, "meeting_title: must be at most 256 characters (got 257)"),
    ("peer.joined", {"parent_meeting_id": "a b"}, f"parent_meeting_id: must be {ID_RULE} (got 'a b')"),
    ("peer.joined", {"parent_meeting_id": "m-1"}, "parent_meeting_id: must differ from meeting_id"),
    ("peer.joined", {"socket_session_id": []}, "socket_session_id: must be a string, not an array"),
    # peer.left / meeting.ended
    ("peer.left", {"peer_id": ...}, "peer_id: required for peer.left"),
    ("peer.left", {"reason": "x" * 129}, "reason: must be at most 128 characters (got 129)"),
    ("meeting.ended", {"reason": {}}, "reason: must be a string, not an object"),
    # chat.message
    ("chat.message", {"message_id": ...}, "message_id: required for chat.message"),
    ("chat.message", {"message_id": ""}, "message_id: must not be empty"),
    ("chat.message", {"message_id": "x" * 129}, "message_id: must be at most 128 characters (got 129)"),
    ("chat.message", {"peer_id": ...}, "peer_id: required for chat.message"),
    ("chat.message", {"payload": ...}, "payload: required for chat.message"),
    ("chat.message", {"payload": "€" * 30_000}, "payload: must be at most 64 KiB of UTF-8 (got 90000 bytes)"),
    ("chat.message", {"payload_type": "TEXT"}, "payload_type: must be one of TEXT_MESSAGE, IMAGE_MESSAGE, FILE_MESSAGE (got 'TEXT')"),
    ("chat.message", {"pinned": "true"}, "pinned: must be true or false, not a string"),
    ("chat.message", {"is_edited": 1}, "is_edited: must be true or false, not an integer"),
    # transcript.segment
    ("transcript.segment", {"peer_id": ...}, "peer_id: required for transcript.segment"),
    ("transcript.segment", {"text": ...}, "text: required for transcript.segment"),
    ("transcript.segment", {"text": "é" * 8193}, "text: must be at most 16 KiB of UTF-8 (got 16386 bytes)"),
    ("transcript.segment", {"started_at": "soon"}, "started_at: not an RFC 3339 timestamp (got 'soon')"),
    ("transcript.segment", {"started_at": 1}, "started_at: 1 (1970-01-01T00:00:00.001Z) is before 2000-01-01T00:00:00Z"),
    ("transcript.segment", {"ended_at": "2031-01-01T00:00:00Z"}, "ended_at: 2031-01-01T00:00:00Z is more than 5 minutes in the future"),
    ("transcript.segment", {"ended_at": "2026-06-03T08:59:58.499Z"}, "ended_at: 2026-06-03T08:59:58.499Z is before started_at 2026-06-03T08:59:58.500Z; ended_at must be ≥ it"),
    ("transcript.segment", {"started_at": ..., "ended_at": T0_MS - 1}, "ended_at: 2026-06-03T08:59:59.999Z is before occurred_at (started_at is absent) 2026-06-03T09:00:00.000Z"),
    ("transcript.segment", {"language": "en_US"}, "language: must be a BCP 47 language tag such as 'en' or 'en-US' (got 'en_US')"),
    ("transcript.segment", {"is_partial": "no"}, "is_partial: must be true or false, not a string"),
    # peer.metadata
    ("peer.metadata", {"peer_id": ...}, "peer_id: required for peer.metadata"),
    ("peer.metadata", {"ip": "999.1.1.1"}, "ip: must be an IPv4 or IPv6 address (got '999.1.1.1')"),
    ("peer.metadata", {"ip": 17}, "ip: must be a string with an IPv4 or IPv6 address, not an integer"),
    ("peer.metadata", {"device_info": "mac"}, "device_info: must be an object, not a string"),
    ("peer.metadata", {"device_info": {"cpus": "8"}}, "device_info.cpus: must be a non-negative number, not a string"),
    ("peer.metadata", {"device_info": {"is_mobile": "no"}}, "device_info.is_mobile: must be true or false, not a string"),
    ("peer.metadata", {"user_agent": 5}, "user_agent: must be a string, not an integer"),
    ("peer.metadata", {"browser_metadata": "Chrome"}, "browser_metadata: must be an object, not a string"),
    ("peer.metadata", {"sdk_version": 1.2}, "sdk_version: must be a string, not a number"),
    ("peer.metadata", {"native_metadata": {"audio_encoder": 1}}, "native_metadata.audio_encoder: must be a string, not an integer"),
    ("peer.metadata", {"ip_information": []}, "ip_information: must be an object, not an array"),
    ("peer.metadata", {"pc_metadata": {"sdp": "v=0"}}, "pc_metadata.sdp: must be an array, not a string"),
    ("peer.metadata", {"pc_metadata": {"relay_connectivity": "yes"}}, "pc_metadata.relay_connectivity: must be true or false, not a string"),
    ("peer.metadata", {"devices_update": {"added": []}}, "devices_update.kind: required"),
    ("peer.metadata", {"devices_update": {"kind": None}}, "devices_update.kind: must be one of audio, video, speaker (got null)"),
    ("peer.metadata", {"devices_update": {"kind": "mic"}}, "devices_update.kind: must be one of audio, video, speaker (got 'mic')"),
    ("peer.metadata", {"devices_update": {"kind": "audio", "added": [{"label": 3}]}}, "devices_update.added[0].label: must be a string, not an integer"),
    ("peer.metadata", {"devices_update": {"kind": "audio", "removed": {}}}, "devices_update.removed: must be an array, not an object"),
    ("peer.metadata", {"selected_device": {"device_id": []}}, "selected_device.device_id: must be a string, not an array"),
    ("peer.metadata", {"candidate_pair": {}}, "candidate_pair.transport: required"),
    ("peer.metadata", {"candidate_pair": {"transport": "sending"}}, "candidate_pair.transport: must be one of producing, consuming (got 'sending')"),
    # peer.event
    ("peer.event", {"peer_id": ...}, "peer_id: required for peer.event"),
    ("peer.event", {"name": ...}, "name: required for peer.event"),
    ("peer.event", {"name": ""}, "name: must not be empty"),
    ("peer.event", {"name": "x" * 129}, "name: must be at most 128 characters (got 129)"),
    ("peer.event", {"metadata": [1]}, "metadata: must be an object, not an array"),
    ("peer.event", {"metadata": {"nested": {"a": 1}}}, "metadata.nested: must be a scalar (string, number, boolean or null), not an object"),
    ("peer.event", {"metadata": {"a b": [1]}}, 'metadata["a b"]: must be a scalar (string, number, boolean or null), not an array'),
    # peer.stats
    ("peer.stats", {"peer_id": ...}, "peer_id: required for peer.stats"),
    ("peer.stats", {"samples": ...}, "samples: required for peer.stats"),
    ("peer.stats", {"samples": []}, "samples: must have at least 1 item(s)"),
    ("peer.stats", {"samples": [SAMPLE] * 1001}, "samples: must have at most 1000 items (got 1001)"),
    ("peer.stats", {"samples": {"0": SAMPLE}}, "samples: must be an array, not an object"),
    ("peer.stats", {"samples": [SAMPLE, 5]}, "samples[1]: must be an object, not an integer"),
]  # fmt: skip


@pytest.mark.parametrize(("etype", "changes", "expected"), CASES)
def test_type_rules(etype: str, changes: dict[str, Any], expected: str) -> None:
    raw = event(etype, id="evt-3", **changes)
    valid, errors = validate_events([event("peer.left"), raw], NOW)
    assert len(valid) == 1
    assert len(errors) == 1, errors
    assert errors[0]["message"].startswith(f"events[1].{expected}"), errors[0]["message"]
    assert (errors[0]["index"], errors[0]["id"], errors[0]["code"]) == (1, "evt-3", 400)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"timestamp": ...}, "timestamp: required"),
        ({"timestamp": "2031-01-01T00:00:00Z"}, "timestamp: 2031-01-01T00:00:00Z is more than 5 minutes in the future"),
        ({"timestamp": 12}, "timestamp: 12 (1970-01-01T00:00:00.012Z) is before 2000-01-01T00:00:00Z"),
        ({"timestamp": "now"}, "timestamp: not an RFC 3339 timestamp"),
        ({"kind": ...}, "kind: required"),
        ({"kind": "screen"}, "kind: must be one of audio, video (got 'screen')"),
        ({"direction": ...}, "direction: required"),
        ({"direction": "out"}, "direction: must be one of outbound, inbound (got 'out')"),
        ({"source": "mic"}, "source: must be one of camera, microphone, screenshare (got 'mic')"),
        ({"ssrc": ...}, "ssrc: required"),
        ({"ssrc": True}, "ssrc: must be an integer between 0 and 4294967295, not a boolean"),
        ({"ssrc": 1.0}, "ssrc: must be an integer between 0 and 4294967295, not a number"),
        ({"ssrc": "1"}, "ssrc: must be an integer between 0 and 4294967295, not a string"),
        ({"ssrc": -1}, "ssrc: must be an integer between 0 and 4294967295 (got -1)"),
        ({"ssrc": 2**32}, "ssrc: must be an integer between 0 and 4294967295 (got 4294967296)"),
        ({"pc_id": 3}, "pc_id: must be a string, not an integer"),
        ({"remote_peer_id": None}, "remote_peer_id: must be a string, not null"),
        ({"packets_lost": -1}, "packets_lost: must be a finite, non-negative number (got -1)"),
        ({"bytes_sent": "10"}, "bytes_sent: must be a non-negative number, not a string"),
        ({"jitter": False}, "jitter: must be a non-negative number, not a boolean"),
        ({"frame_width": None}, "frame_width: must be a non-negative number, not null"),
        ({"quality_limitation_reason": "network"}, "quality_limitation_reason: must be one of cpu, bandwidth, none, other (got 'network')"),
        ({"quality_limitation_durations": 3}, "quality_limitation_durations: must be an object, not an integer"),
        ({"quality_limitation_durations": {"cpu": "1"}}, "quality_limitation_durations.cpu: must be a non-negative number, not a string"),
        ({"quality_limitation_resolution_changes": -2.5}, "quality_limitation_resolution_changes: must be a finite, non-negative number (got -2.5)"),
    ],
)  # fmt: skip
def test_stats_sample_rules(changes: dict[str, Any], expected: str) -> None:
    sample = {k: v for k, v in {**SAMPLE, **changes}.items() if v is not ...}
    errors = errors_of(event("peer.stats", samples=[SAMPLE, SAMPLE, sample]))
    assert len(errors) == 1, errors
    assert errors[0]["message"].startswith(f"events[0].samples[2].{expected}"), errors[0]
    assert errors[0]["id"] == "evt-1"


@pytest.mark.parametrize(
    ("etype", "changes"),
    [
        ("meeting.updated", {"title": "é" * 256, "meta": {"k": "x" * 16_370}}),
        ("chat.message", {"payload": "€" * 21_845 + "a", "payload_type": "FILE_MESSAGE"}),
        ("chat.message", {"payload": ""}),
        ("transcript.segment", {"text": "é" * 8192, "ended_at": "2026-06-03T08:59:58.500Z"}),
        ("transcript.segment", {"language": "zh-Hant-TW", "ended_at": ...}),
        ("peer.joined", {"peer_id": "a.b", "parent_meeting_id": ..., "custom_participant_id": ""}),
        ("peer.joined", {"peer_id": "x" * 128, "preset_view_type": "CHAT"}),
        ("peer.metadata", {"ip": "192.0.2.1", "device_info": {"os": None, "cpus": None}}),
        ("peer.stats", {"samples": [SAMPLE] * 1000}),
        ("peer.stats", {"samples": [{"timestamp": T0_MS, "kind": "audio", "direction": "outbound", "ssrc": 2**32 - 1}]}),
        ("peer.event", {"metadata": {}}),
    ],
)  # fmt: skip
def test_boundary_values_are_valid(etype: str, changes: dict[str, Any]) -> None:
    assert errors_of(event(etype, **changes)) == []


def test_several_bad_fields_give_one_entry_each() -> None:
    raw = event("chat.message", peer_id=..., pinned="yes", payload=7)
    assert messages(raw) == [
        "events[0].peer_id: required for chat.message",
        "events[0].payload: must be a string, not an integer",
        "events[0].pinned: must be true or false, not a string",
    ]


def test_null_in_an_event_field_is_not_treated_as_absent() -> None:
    assert messages(event("peer.joined", user_id=None)) == [
        "events[0].user_id: must be a string, not null"
    ]


def test_long_values_are_shortened_in_messages() -> None:
    (message,) = messages(event("meeting.updated", session_type="y" * 500))
    assert len(message) < 200 and message.endswith("…)")


# --- timestamps: fast path agrees with the reference parser ------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-06-03T09:00:00Z", "2026-06-03T09:00:00.1Z", "2026-06-03T09:00:00.123456789Z",
        "2026-06-03T09:00:00.999999999+14:00", "2026-06-03T09:00:00-23:59",
        "2026-06-03T09:00:00+24:00", "2026-06-03T24:00:00Z", "2026-02-29T00:00:00Z",
        "2024-02-29T00:00:00Z", "1969-12-31T23:59:59.5Z", "0000-01-01T00:00:00Z",
        "2026-06-03T09:00:00.1234567890Z", "2026-06-03T09:00:00,5Z", "2026-06-03T09:00Z",
        "２０２６-06-03T09:00:00Z", "2026-06-03T09:00:00+0200",
    ],
)  # fmt: skip
def test_fast_timestamp_parser_matches_reference(text: str) -> None:
    assert rfc3339_ms(text) == parse_rfc3339_ms(text)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
    st.integers(min_value=0, max_value=9),
    st.integers(min_value=0, max_value=999_999_999),
)
def test_fast_timestamp_parser_matches_reference_property(
    moment: datetime, offset_min: int, digits: int, fraction: int
) -> None:
    sign = "+" if offset_min >= 0 else "-"
    offset = (
        "Z" if offset_min == 0 else f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    )
    frac = f".{fraction:09d}"[: digits + 1] if digits else ""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + frac + offset
    assert rfc3339_ms(text) == parse_rfc3339_ms(text)


# --- speed -------------------------------------------------------------------------------
