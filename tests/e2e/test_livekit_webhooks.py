"""LiveKit webhooks end to end: webhooks built with livekit-api's own types, serialized as LiveKit
serializes them (protobuf JSON) and signed with its AccessToken, posted to the shared server
process; the official SDK (strict) reads the sessions.

The room `weekly` (times in minutes after T0, all figures worked out by hand):
  session A: room_started 0, metadata {"team": "core"}
    alice PA_alice  joined 0 (host attribute), left with room_finished 30        -> 30
    bob   PA_bob1   joined 2, left 10 (SIGNAL_CLOSE: a reconnect)                -> 8
    bob   PA_bob2   joined 10 (same identity, new sid), left 20                  -> 10
    carol PA_carol  connection aborted: joining at 12, aborted 12.5              -> 0.5
    egress EG_rec   started 5, ended 25 (COMPLETE)                               -> 20
    tracks: alice mic on 1, alice screen share 4..6, bob camera on 3
    room_finished 30
    => 68.5 minutes, at most 4 at once (12..12.5: alice, bob2, carol, the egress)
  session B (the room name reused): room_started 120 with plain-text metadata,
    dave PA_dave joined 121, left 126; room_finished 127                         -> 5
"""

from __future__ import annotations

import base64
import hashlib
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudflare import Cloudflare
from google.protobuf.json_format import MessageToJson
from livekit import api

from support import Server

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-livekit"
KEY, SECRET = "APIdevkey", "livekit-secret-at-least-32-characters-long"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ROOM = "weekly"


def at(minutes: float) -> str:
    return (
        (T0 + timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def secs(minutes: float) -> int:
    return int((T0 + timedelta(minutes=minutes)).timestamp())


def hook(event: str, eid: str, minutes: float, **fields: Any) -> api.WebhookEvent:
    return api.WebhookEvent(event=event, id=eid, created_at=secs(minutes), **fields)


def room(metadata: str = "", sid: str = "RM_A") -> api.Room:
    return api.Room(sid=sid, name=ROOM, metadata=metadata, creation_time=secs(0))


def person(sid: str, identity: str, joined: float, **fields: Any) -> api.ParticipantInfo:
    return api.ParticipantInfo(
        sid=sid,
        identity=identity,
        name=identity.title(),
        joined_at=secs(joined),
        joined_at_ms=secs(joined) * 1000,
        **fields,
    )


def track(sid: str, kind: int, source: int) -> api.TrackInfo:
    return api.TrackInfo(sid=sid, type=kind, source=source, mime_type="audio/opus")


def signed(
    event: api.WebhookEvent,
    *,
    key: str = KEY,
    secret: str = SECRET,
    ttl: timedelta = timedelta(minutes=5),
    with_sha: bool = True,
) -> tuple[bytes, str]:
    """The body and Authorization header LiveKit sends: protobuf JSON, a bare HS256 JWT."""
    body = MessageToJson(event, indent=None).encode()
    token = api.AccessToken(key, secret).with_ttl(ttl)
    if with_sha:
        token = token.with_sha256(base64.b64encode(hashlib.sha256(body).digest()).decode())
    return body, token.to_jwt()


def lifecycle() -> list[api.WebhookEvent]:
    ACTIVE, P = api.ParticipantInfo.State.ACTIVE, api.ParticipantInfo
    alice = person("PA_alice", "alice", 0, state=ACTIVE, attributes={"role": "host"})
    bob1, bob2 = person("PA_bob1", "bob", 2, state=ACTIVE), person("PA_bob2", "bob", 10)
    brief = api.ParticipantInfo  # track webhooks carry only the participant's sid and identity
    audio, video = api.TrackType.AUDIO, api.TrackType.VIDEO
    src = api.TrackSource
    meta = '{"team": "core"}'
    recording = dict(
        egress_id="EG_rec",
        room_id="RM_A",
        room_name=ROOM,
        room_composite=api.RoomCompositeEgressRequest(room_name=ROOM),
    )
    dave = person("PA_dave", "dave", 121, state=ACTIVE)
    return [
        hook("room_started", "EV_a01", 0, room=room(meta)),
        hook("participant_joined", "EV_a02", 0, room=room(meta), participant=alice),
        hook(
            "track_published",
            "EV_a03",
            1,
            room=room(),
            participant=brief(sid="PA_alice", identity="alice"),
            track=track("TR_mic", audio, src.MICROPHONE),
        ),
        hook("participant_joined", "EV_a04", 2, room=room(meta), participant=bob1),
        hook(
            "track_published",
            "EV_a05",
            3,
            room=room(),
            participant=brief(sid="PA_bob1", identity="bob"),
            track=track("TR_cam", video, src.CAMERA),
        ),
        hook(
            "track_published",
            "EV_a06",
            4,
            room=room(),
            participant=brief(sid="PA_alice", identity="alice"),
            track=track("TR_scr", video, src.SCREEN_SHARE),
        ),
        hook(
            "egress_started",
            "EV_a07",
            5,
            egress_info=api.EgressInfo(status=api.EgressStatus.EGRESS_STARTING, **recording),
        ),
        hook(
            "track_unpublished",
            "EV_a08",
            6,
            room=room(),
            participant=brief(sid="PA_alice", identity="alice"),
            track=track("TR_scr", video, src.SCREEN_SHARE),
        ),
        hook(
            "participant_left",
            "EV_a09",
            10,
            room=room(meta),
            participant=person(
                "PA_bob1",
                "bob",
                2,
                state=P.State.DISCONNECTED,
                disconnect_reason=api.DisconnectReason.SIGNAL_CLOSE,
            ),
        ),
        hook("participant_joined", "EV_a10", 10, room=room(meta), participant=bob2),
        hook(
            "participant_connection_aborted",
            "EV_a11",
            12.5,
            room=room(meta),
            participant=person(
                "PA_carol", "carol", 12, disconnect_reason=api.DisconnectReason.CONNECTION_TIMEOUT
            ),
        ),
        hook(
            "participant_left",
            "EV_a12",
            20,
            room=room(meta),
            participant=person(
                "PA_bob2", "bob", 10, disconnect_reason=api.DisconnectReason.CLIENT_INITIATED
            ),
        ),
        hook(
            "egress_ended",
            "EV_a13",
            25,
            egress_info=api.EgressInfo(
                status=api.EgressStatus.EGRESS_COMPLETE,
                started_at=secs(5) * 10**9,
                ended_at=secs(25) * 10**9,
                updated_at=secs(25) * 10**9,
                **recording,
            ),
        ),
        hook("room_finished", "EV_a14", 30, room=room(meta)),
        hook("room_started", "EV_b01", 120, room=room("plain text", "RM_B")),
        hook(
            "participant_joined", "EV_b02", 121, room=room("plain text", "RM_B"), participant=dave
        ),
        hook(
            "participant_left",
            "EV_b03",
            126,
            room=room("plain text", "RM_B"),
            participant=person(
                "PA_dave", "dave", 121, disconnect_reason=api.DisconnectReason.CLIENT_INITIATED
            ),
        ),
        hook("room_finished", "EV_b04", 127, room=room("plain text", "RM_B")),
    ]


def ignored() -> list[api.WebhookEvent]:
    """Webhooks that store nothing: agents, ingress, LiveKit's own egress participant."""
    egress_bot = person("PA_egbot", "EG_rec", 5, kind=api.ParticipantInfo.Kind.EGRESS)
    return [
        hook("agent_job_started", "EV_x01", 7, job=api.Job(id="AJ_1", room=room())),
        hook(
            "ingress_started",
            "EV_x02",
            7,
            ingress_info=api.IngressInfo(ingress_id="IN_1", room_name=ROOM),
        ),
        hook("participant_joined", "EV_x03", 5, room=room(), participant=egress_bot),
        hook("some_future_event", "EV_x04", 7, room=room()),
    ]


def webhook_url(srv: Server, app: str) -> str:
    return f"{srv.base_url}/integrations/livekit/v1/accounts/{ACCOUNT}/apps/{app}"


def post(
    srv: Server,
    app: str,
    body: bytes,
    authorization: str | None,
    content_type: str = "application/webhook+json",
) -> httpx.Response:
    headers = {"Content-Type": content_type, "User-Agent": "LiveKit"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return httpx.post(webhook_url(srv, app), content=body, headers=headers, timeout=30)


def set_up_app(srv: Server, tmp: Path) -> str:
    app = f"app-{uuid.uuid4().hex[:8]}"
    secret_file = tmp / f"{app}.secret"
    secret_file.write_text(SECRET + "\n")
    srv.cli("app", "set-livekit", "--account", ACCOUNT, "--app", app, "--api-key", KEY,
            "--api-secret-file", str(secret_file))  # fmt: skip
    return app


@dataclass
class Apps:
    shuffled: str
    in_order: str


@pytest.fixture(scope="module")
def apps(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    tmp = tmp_path_factory.mktemp("livekit")
    shuffled, in_order = set_up_app(server, tmp), set_up_app(server, tmp)
    requests = [signed(e) for e in lifecycle()]
    for body, token in requests:
        resp = post(server, in_order, body, token)
        assert resp.status_code == 200, resp.text
    mixed = requests[:]
    random.Random(9).shuffle(mixed)
    for body, token in mixed:
        resp = post(server, shuffled, body, token)
        assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["pending"] == 0
    for body, token in mixed[:6]:  # LiveKit's retries: the same requests again
        again = post(server, shuffled, body, token).json()["data"]
        assert again["accepted"] == 0 and again["duplicates"] > 0
    for event in ignored():
        resp = post(server, shuffled, *signed(event))
        assert resp.status_code == 200 and resp.json()["data"]["accepted"] == 0, resp.text
    yield Apps(shuffled, in_order)


_tokens: dict[str, str] = {}


def token_for(srv: Server, app: str) -> str:
    """One token per app (made by the real CLI, which takes a moment), read and ingest."""
    if app not in _tokens:
        _tokens[app] = srv.token(ACCOUNT, "read", "ingest", app=app)
    return _tokens[app]


def sdk(srv: Server, app: str) -> Cloudflare:
    return Cloudflare(
        api_token=token_for(srv, app),
        base_url=f"{srv.base_url}/client/v4",
        _strict_response_validation=True,
    )


def sessions_of(srv: Server, app: str) -> dict[str, Any]:
    resp = sdk(srv, app).realtime_kit.sessions.get_sessions(app, account_id=ACCOUNT)
    return {"A" if s.started_at == at(0) else "B": s for s in resp.data.sessions}


@pytest.mark.parametrize("which", ["shuffled", "in_order"])
def test_sessions(server: Server, apps: Apps, which: str) -> None:
    app = getattr(apps, which)
    sessions = sessions_of(server, app)
    assert set(sessions) == {"A", "B"}
    a, b = sessions["A"], sessions["B"]
    assert (a.associated_id, a.meeting_display_name, a.status) == (ROOM, ROOM, "ENDED")
    assert (a.started_at, a.ended_at) == (at(0), at(30))
    assert a.minutes_consumed == pytest.approx(30 + 8 + 10 + 0.5 + 20)
    assert (a.max_concurrent_participants, a.live_participants) == (4, 0)
    assert (b.associated_id, b.started_at, b.ended_at, b.minutes_consumed) == (
        ROOM,
        at(121),
        at(126),
        5,
    )
    details = sdk(server, app).realtime_kit.sessions.get_session_details(
        a.id, account_id=ACCOUNT, app_id=app
    )
    assert details.data.meta == {"team": "core"}
    later = sdk(server, app).realtime_kit.sessions.get_session_details(
        b.id, account_id=ACCOUNT, app_id=app
    )
    assert later.data.meta == {"metadata": "plain text"}


@pytest.mark.parametrize("which", ["shuffled", "in_order"])
def test_participants_raw_and_consolidated(server: Server, apps: Apps, which: str) -> None:
    app = getattr(apps, which)
    client = sdk(server, app).realtime_kit.sessions
    sid = sessions_of(server, app)["A"].id
    raw = client.get_session_participants(
        sid, account_id=ACCOUNT, app_id=app, include_peer_events=True, per_page=100
    ).data.participants
    rows = {p.id: p for p in raw}
    assert {k: (p.user_id, p.joined_at, p.left_at, p.duration) for k, p in rows.items()} == {
        "EG_rec": ("EG_rec", at(5), at(25), 20),
        "PA_alice": ("alice", at(0), at(30), 30),
        "PA_bob1": ("bob", at(2), at(10), 8),
        "PA_bob2": ("bob", at(10), at(20), 10),
        "PA_carol": ("carol", at(12), at(12.5), 0.5),
    }
    alice = rows["PA_alice"]
    assert (alice.display_name, alice.custom_participant_id) == ("Alice", "alice")
    assert rows["EG_rec"].preset_name == "livekit_egress"
    assert [(e.event_name, e.created_at) for e in rows["PA_bob2"].peer_events] == [
        ("PEER_CREATED", at(10)),
        ("PEER_JOINING", at(10)),
        ("PEER_LEAVING", at(20)),
    ]
    people = client.get_session_participants(
        sid, account_id=ACCOUNT, app_id=app, view="consolidated", include_peer_events=True
    ).data.participants
    by_user = {p.user_id: p for p in people}
    assert set(by_user) == {"alice", "bob", "carol", "EG_rec"}
    bob = by_user["bob"]
    assert (bob.id, bob.joined_at, bob.left_at, bob.duration) == ("PA_bob1", at(2), at(20), 18)
    assert {e.peer_id for e in bob.peer_events} == {"PA_bob1", "PA_bob2"}
    assert len(bob.peer_events) == 6


def peer_event_log(srv: Server, app: str, peer: str) -> list[tuple[str, str, dict[str, Any]]]:
    resp = sdk(srv, app).realtime_kit.sessions.get_participant_data_from_peer_id(
        peer, account_id=ACCOUNT, app_id=app
    )
    events = resp.data.participant.peer_report.metadata.events
    return [(e.name, e.timestamp, dict(e.metadata or {})) for e in events]


@pytest.mark.parametrize("which", ["shuffled", "in_order"])
def test_peer_events(server: Server, apps: Apps, which: str) -> None:
    app = getattr(apps, which)
    assert peer_event_log(server, app, "PA_alice") == [
        ("participant_info", at(0), {"kind": "STANDARD", "attributes.role": "host"}),
        ("audio_on", at(1), {"track_id": "TR_mic", "type": "AUDIO", "source": "MICROPHONE",
                             "mime_type": "audio/opus"}),
        ("screenshare_started", at(4), {"track_id": "TR_scr", "type": "VIDEO",
                                        "source": "SCREEN_SHARE", "mime_type": "audio/opus"}),
        ("screenshare_stopped", at(6), {"track_id": "TR_scr", "type": "VIDEO",
                                        "source": "SCREEN_SHARE", "mime_type": "audio/opus"}),
    ]  # fmt: skip
    assert [n for n, _, _ in peer_event_log(server, app, "PA_bob1")] == [
        "participant_info",
        "video_on",
        "participant_left",
    ]
    assert peer_event_log(server, app, "PA_bob1")[-1][2] == {"reason": "SIGNAL_CLOSE"}
    assert peer_event_log(server, app, "PA_carol")[1:] == [
        ("participant_connection_aborted", at(12.5), {"reason": "CONNECTION_TIMEOUT"}),
    ]
    assert peer_event_log(server, app, "EG_rec") == [
        ("egress_started", at(5), {"status": "EGRESS_STARTING", "request": "room_composite"}),
        ("egress_ended", at(25), {"status": "EGRESS_COMPLETE", "request": "room_composite"}),
    ]


# --- refusals --------------------------------------------------------------------------


def _nothing_stored(srv: Server, app: str) -> None:
    pending = httpx.get(
        f"{srv.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/pending",
        headers={"Authorization": f"Bearer {token_for(srv, app)}"},
        timeout=30,
    )
    assert pending.json()["data"]["total_count"] == 0
    assert sessions_of(srv, app) == {}


def test_forgeries_are_401_and_store_nothing(server: Server, tmp_path: Path) -> None:
    app = set_up_app(server, tmp_path)
    joined = lifecycle()[1]
    body, token = signed(joined)
    tampered = body.replace(b'"alice"', b'"mallory"')
    assert tampered != body
    refused = {
        "tampered body": (tampered, token),
        "wrong secret": signed(joined, secret="another-secret-of-at-least-32-chars!"),
        "wrong issuer": signed(joined, key="APIotherkey"),
        "no sha256 claim": signed(joined, with_sha=False),
        "expired": signed(joined, ttl=timedelta(minutes=-5)),
        "not a JWT": (body, "not-a-token"),
        "no Authorization": (body, None),
    }
    for case, (data, auth) in refused.items():
        resp = post(server, app, data, auth)
        assert resp.status_code == 401, (case, resp.text)
        error = resp.json()["error"]["message"]
        assert "could not be verified" in error and SECRET not in resp.text, case
    _nothing_stored(server, app)
    prefixed = post(server, app, body, f"Bearer {token}")
    assert prefixed.status_code == 200 and prefixed.json()["data"]["accepted"] == 2


def test_other_refusals(server: Server, tmp_path: Path) -> None:
    app = set_up_app(server, tmp_path)
    body, token = signed(lifecycle()[0])
    wrong_type = post(server, app, body, token, content_type="application/json")
    assert wrong_type.status_code == 415 and "application/webhook+json" in wrong_type.text
    huge = post(server, app, b" " * (1024 * 1024 + 1), token)
    assert huge.status_code == 413, huge.text
    unset = post(server, f"app-{uuid.uuid4().hex[:8]}", body, token)
    assert unset.status_code == 404 and "rtk-sessions app set-livekit" in unset.text
    _nothing_stored(server, app)
