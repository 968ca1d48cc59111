"""The LiveKit mapping on inputs the end-to-end scenario does not have: room names that are not
ids, NUL characters, metadata that is not an object or too large, missing times, unknown
webhooks. Every result must pass our own validation (a refusal would make LiveKit retry)."""

from __future__ import annotations

from livekit import api

from rtk_sessions.ingest.validation import check_batch
from rtk_sessions.integrations.livekit import events_of, meeting_id

NOW = 1_790_000_000_000


def _hook(event: str, **fields: object) -> api.WebhookEvent:
    return api.WebhookEvent(event=event, id="EV_1", created_at=NOW // 1000 - 60, **fields)


def test_awkward_values_still_make_valid_events() -> None:
    name = "Team room: ünïcode & spaces " + "x" * 300
    room = api.Room(sid="RM_1", name=name, metadata="x" * 20_000)
    who = api.ParticipantInfo(sid="PA_1", identity="a\x00b", name="N\x00", attributes={"k": "v"})
    hooks = [
        _hook("room_finished", room=room),
        _hook("participant_left", room=room, participant=who),  # no joinedAt: the webhook's time
        _hook("track_published", room=room, participant=who, track=api.TrackInfo(sid="TR_1")),
        _hook(
            "track_published",
            room=room,
            participant=who,
            track=api.TrackInfo(sid="TR_2", type=api.TrackType.DATA),
        ),
    ]
    events = [e for h in hooks for e in events_of(h, NOW)]
    assert len(check_batch(events, NOW)) == len(events)
    assert {e["meeting_id"] for e in events} == {meeting_id(name)}
    assert meeting_id(name).startswith("lk-room-") and meeting_id("standup") == "standup"
    update = events[0]
    assert update["title"] == name[:256] and "meta" not in update  # over 16 KiB: left out
    joined = next(e for e in events if e["type"] == "peer.joined")
    assert (joined["user_id"], joined["display_name"]) == ("ab", "N")
    assert joined["occurred_at"] == NOW - 60_000
    # No type in LiveKit's JSON is AUDIO (the default); a data track gives no peer event.
    tracks = [e for e in events if e["id"].endswith(":track")]
    assert [(e["name"], e["metadata"]["type"]) for e in tracks] == [("audio_on", "AUDIO")]


def test_metadata_that_is_not_an_object_is_kept_as_text() -> None:
    for text, meta in (("[1, 2]", {"metadata": "[1, 2]"}), ('{"a": 1}', {"a": 1})):
        room = api.Room(sid="RM_1", name="r", metadata=text)
        assert events_of(_hook("room_started", room=room), NOW)[0]["meta"] == meta


def test_times_out_of_range_fall_back_to_now() -> None:
    room = api.Room(sid="RM_1", name="r")
    future = api.WebhookEvent(event="room_started", id="EV_2", created_at=NOW // 1000 + 3600,
                              room=room)  # fmt: skip
    assert events_of(future, NOW)[0]["occurred_at"] == NOW


def test_webhooks_we_do_not_use_give_nothing() -> None:
    room = api.Room(sid="RM_1", name="r")
    assert events_of(_hook("agent_job_ended", room=room), NOW) == []
    assert events_of(_hook("ingress_ended", ingress_info=api.IngressInfo(room_name="r")), NOW) == []
    assert events_of(_hook("egress_ended", egress_info=api.EgressInfo(egress_id="EG_1")), NOW) == []
    assert events_of(_hook("participant_joined", room=room), NOW) == []  # no participant
