"""The active session of a meeting through the official SDK (strict): the LIVE session with
its breakout rooms, 404 for a meeting with none, and 501 for the calls that need a media
server (after the usual 401/403)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import cloudflare
import httpx
import pytest

from files_scenario import iso, sdk
from support import Server

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-active"


def _event(eid: str, kind: str, meeting: str, when: datetime, **body: Any) -> dict[str, Any]:
    return {"id": eid, "type": kind, "meeting_id": meeting, "occurred_at": iso(when), **body}


def _ingest(server: Server, app: str, events: list[dict[str, Any]]) -> None:
    token = server.token(ACCOUNT, "ingest", app=app)
    url = f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events"
    resp = httpx.post(url, json=events, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code == 200, resp.text


def test_the_live_session_of_a_meeting(server: Server) -> None:
    app, live, ended, room = f"app-{uuid.uuid4().hex[:8]}", *(str(uuid.uuid4()) for _ in range(3))
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - timedelta(minutes=30)
    _ingest(server, app, [
        _event("e1", "peer.joined", ended, t0, peer_id="old", display_name="Old"),
        _event("e2", "peer.left", ended, t0 + timedelta(minutes=5), peer_id="old"),
        _event("m", "meeting.updated", live, t0, title="Planning"),
        _event("l1", "peer.joined", live, t0 + timedelta(minutes=10), peer_id="a", display_name="Ada"),
        _event("l2", "peer.joined", live, t0 + timedelta(minutes=12), peer_id="b", display_name="Bo"),
        _event("l3", "peer.left", live, t0 + timedelta(minutes=20), peer_id="b"),
        _event("r1", "peer.joined", room, t0 + timedelta(minutes=14), peer_id="c",
               display_name="Cy", parent_meeting_id=live),
    ])  # fmt: skip
    client = sdk(server, server.token(ACCOUNT, "read", app=app))
    active = client.realtime_kit.active_session

    got = active.get_active_session(live, account_id=ACCOUNT, app_id=app)
    assert got.data is not None
    data = got.data
    assert (data.associated_id, data.status, data.meeting_display_name) == (live, "LIVE", "Planning")
    assert data.live_participants == 1 and data.max_concurrent_participants == 2
    assert data.ended_at is None and data.organization_id == app
    # It is the same session the sessions API lists for the meeting, figures and all.
    [listed] = client.realtime_kit.sessions.get_sessions(
        app, account_id=ACCOUNT, associated_id=live
    ).data.sessions  # type: ignore[union-attr]
    assert listed.id == data.id and listed.started_at == data.started_at
    assert abs((listed.minutes_consumed or 0) - data.minutes_consumed) < 0.1
    assert data.breakout_rooms and [r["associated_id"] for r in data.breakout_rooms] == [room]  # type: ignore[index]

    with pytest.raises(cloudflare.NotFoundError) as none:
        active.get_active_session(ended, account_id=ACCOUNT, app_id=app)
    assert "no active session" in str(none.value)
    with pytest.raises(cloudflare.NotFoundError):
        active.get_active_session(str(uuid.uuid4()), account_id=ACCOUNT, app_id=app)


def test_calls_that_need_a_media_server_are_refused(server: Server) -> None:
    app, meeting = f"app-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    _ingest(server, app, [_event("j", "peer.joined", meeting, datetime.now(UTC), peer_id="a")])
    # No retries: the SDK retries 5xx answers, and this one will not change.
    admin_client = sdk(server, server.token(ACCOUNT, "admin", app=app)).with_options(max_retries=0)
    admin = admin_client.realtime_kit.active_session
    where = {"account_id": ACCOUNT, "app_id": app}
    calls = {
        "kick all": lambda a: a.kick_all_participants(meeting, **where),
        "kick": lambda a: a.kick_participants(meeting, **where, participant_ids=["a"]),
        "poll": lambda a: a.create_poll(meeting, **where, question="Lunch?", options=["y", "n"]),
    }
    for name, call in calls.items():
        with pytest.raises(cloudflare.APIStatusError) as refused:
            call(admin)
        assert refused.value.status_code == 501, name
        assert "media server" in str(refused.value), name
    # Authentication first: a read token may not ask.
    reader = sdk(server, server.token(ACCOUNT, "read", app=app)).realtime_kit.active_session
    with pytest.raises(cloudflare.PermissionDeniedError):
        reader.kick_all_participants(meeting, **where)
