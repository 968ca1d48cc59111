"""End to end: a real server process, events in over HTTP, the official SDK (strict) reads.

Every expected figure below is worked out by hand from the scenario, in minutes.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cloudflare
import httpx
import pytest
from cloudflare import Cloudflare

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
ACCOUNT = "acct-e2e"


def at(minutes: float, base: datetime = T0) -> str:
    return (
        (base + timedelta(minutes=minutes))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Scenario:
    app: str
    m1: str
    breakout: str
    m2: str
    m3: str
    live_started: datetime
    events: list[dict[str, Any]]


def _peer(
    eid: str, meeting: str, when: str, peer: str, name: str, user: str | None, **extra: Any
) -> dict[str, Any]:
    event = {
        "id": eid,
        "type": "peer.joined",
        "meeting_id": meeting,
        "occurred_at": when,
        "peer_id": peer,
        "display_name": name,
        "preset_name": "group_call_participant",
        **extra,
    }
    if user:
        event["user_id"] = user
    return event


def _left(eid: str, meeting: str, when: str, peer: str) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "peer.left",
        "meeting_id": meeting,
        "occurred_at": when,
        "peer_id": peer,
    }


def build_scenario(app: str) -> Scenario:
    m1, br, m2, m3 = (str(uuid.uuid4()) for _ in range(4))
    live = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    ev = [
        {
            "id": "u1",
            "type": "meeting.updated",
            "meeting_id": m1,
            "occurred_at": at(-1),
            "title": "Weekly sync",
        },
        # Session A of m1: a1 [0,30], b1 [5,10], b2 [10,20] (bob reconnects), c1 [10,40]
        _peer(
            "j-a1",
            m1,
            at(0),
            "a1",
            "Alice",
            "u-alice",
            custom_participant_id="c-alice",
            preset_name="host",
        ),
        _peer("j-b1", m1, at(5), "b1", "Bob", "u-bob"),
        _left("l-b1", m1, at(10), "b1"),
        _peer("j-b2", m1, at(10), "b2", "Bob", "u-bob"),
        _peer("j-c1", m1, at(10), "c1", "Carol", "u-carol"),
        _left("l-b2", m1, at(20), "b2"),
        _left("l-a1", m1, at(30), "a1"),
        _left("l-c1", m1, at(40), "c1"),
        # Breakout room of m1 during session A: e1 [12,25], a2 [15,22] (Alice's second device)
        _peer("j-e1", br, at(12), "e1", "Erin", "u-erin", parent_meeting_id=m1),
        _peer("j-a2", br, at(15), "a2", "Alice", "u-alice", parent_meeting_id=m1),
        _left("l-a2", br, at(22), "a2"),
        _left("l-e1", br, at(25), "e1"),
        # Session B of m1, renamed while it runs: d1 [120,135]
        _peer("j-d1", m1, at(120), "d1", "Dave", "u-dave"),
        {
            "id": "u2",
            "type": "meeting.updated",
            "meeting_id": m1,
            "occurred_at": at(125),
            "title": "Weekly sync (renamed)",
        },
        _left("l-d1", m1, at(135), "d1"),
        # m3: ended by the host at 1d+31m: h1 [1d, 1d+31], i1 [1d+1, 1d+31]
        _peer("j-h1", m3, at(1440), "h1", "Heidi", "u-heidi", meeting_title="Board review"),
        _peer("j-i1", m3, at(1441), "i1", "Ivan", None),
        {"id": "end-m3", "type": "meeting.ended", "meeting_id": m3, "occurred_at": at(1471)},
        # m2: LIVE now, f1 joined 20 min ago, g1 15 min ago
        _peer("j-f1", m2, iso(live), "f1", "Frank", "u-frank", meeting_title="Standup"),
        _peer("j-g1", m2, at(5, live), "g1", "Grace", "u-grace"),
        {
            "id": "chat-1",
            "type": "chat.message",
            "meeting_id": m2,
            "occurred_at": at(6, live),
            "peer_id": "f1",
            "message_id": "m-1",
            "payload": 'hello, "world" 👋',
        },
    ]
    return Scenario(app, m1, br, m2, m3, live, ev)


@pytest.fixture(scope="module")
def scenario(server: Any) -> Iterator[Scenario]:
    app = f"app-{uuid.uuid4().hex[:8]}"
    sc = build_scenario(app)
    token = server.token(ACCOUNT, "ingest", app=app)
    url = f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events"
    shuffled = sc.events[:]
    random.Random(4).shuffle(shuffled)
    headers = {"Authorization": f"Bearer {token}"}
    first = httpx.post(url, json=shuffled[:10], headers=headers, timeout=30)
    assert first.status_code == 200, first.text
    second = httpx.post(url, json={"events": shuffled[5:]}, headers=headers, timeout=30)
    assert second.status_code == 200, second.text
    assert second.json()["data"] == {"accepted": len(sc.events) - 10, "duplicates": 5, "pending": 0}
    yield sc


@pytest.fixture(scope="module")
def client(server: Any, scenario: Scenario) -> Cloudflare:
    token = server.token(ACCOUNT, "read", app=scenario.app)
    return Cloudflare(
        api_token=token, base_url=f"{server.base_url}/client/v4", _strict_response_validation=True
    )


def _ids(resp: Any) -> list[str]:
    return [s.id for s in resp.data.sessions]


def _by_meeting(client: Cloudflare, sc: Scenario) -> dict[str, Any]:
    resp = client.realtime_kit.sessions.get_sessions(sc.app, account_id=ACCOUNT, per_page=100)
    out: dict[str, Any] = {}
    for s in resp.data.sessions:
        key = (
            s.associated_id if s.associated_id != sc.m1 else ("A" if s.started_at == at(0) else "B")
        )
        out[key] = s
    return out


def test_list_figures(client: Cloudflare, scenario: Scenario) -> None:
    sessions = _by_meeting(client, scenario)
    assert set(sessions) == {"A", "B", scenario.breakout, scenario.m2, scenario.m3}
    a, b = sessions["A"], sessions["B"]
    assert (a.meeting_display_name, a.status, a.started_at, a.ended_at) == (
        "Weekly sync",
        "ENDED",
        at(0),
        at(40),
    )
    assert a.minutes_consumed == pytest.approx(30 + 5 + 10 + 30)
    assert (a.max_concurrent_participants, a.live_participants) == (3, 0)
    assert a.organization_id == scenario.app and a.type == "meeting" and a.created_at == at(0)
    assert (b.meeting_display_name, b.minutes_consumed, b.max_concurrent_participants) == (
        "Weekly sync (renamed)",
        15,
        1,
    )
    child = sessions[scenario.breakout]
    assert (
        child.minutes_consumed,
        child.max_concurrent_participants,
        child.meeting_display_name,
    ) == (20, 2, "")
    m3 = sessions[scenario.m3]
    assert (m3.meeting_display_name, m3.ended_at, m3.minutes_consumed) == (
        "Board review",
        at(1471),
        61,
    )


def test_live_session_grows_with_the_clock(client: Cloudflare, scenario: Scenario) -> None:
    def read() -> tuple[float, Any]:
        before = time.time()
        s = client.realtime_kit.sessions.get_session_details(
            _by_meeting(client, scenario)[scenario.m2].id, account_id=ACCOUNT, app_id=scenario.app
        ).data
        return before, s

    before, s = read()
    started = scenario.live_started.timestamp()
    low = ((before - started) + (before - started - 300)) / 60
    assert (s.status, s.live_participants, s.ended_at, s.meeting_display_name) == (
        "LIVE",
        2,
        None,
        "Standup",
    )
    assert low <= s.minutes_consumed <= low + 2 * (time.time() - before) / 60 + 0.01
    time.sleep(1.1)
    _, later = read()
    assert later.minutes_consumed > s.minutes_consumed + 1.5 / 60


def test_paging_and_default_order(client: Cloudflare, scenario: Scenario) -> None:
    sessions = client.realtime_kit.sessions
    everything = _ids(sessions.get_sessions(scenario.app, account_id=ACCOUNT))
    by = _by_meeting(client, scenario)
    expected = [by[k].id for k in (scenario.m2, scenario.m3, "B", scenario.breakout, "A")]
    assert everything == expected
    page2 = sessions.get_sessions(scenario.app, account_id=ACCOUNT, per_page=2, page_no=2.0)
    assert _ids(page2) == expected[2:4]
    assert (page2.paging.total_count, page2.paging.start_offset, page2.paging.end_offset) == (
        5,
        3,
        4,
    )
    page3 = sessions.get_sessions(scenario.app, account_id=ACCOUNT, per_page=2, page_no=3)
    assert _ids(page3) == expected[4:] and (page3.paging.start_offset, page3.paging.end_offset) == (
        5,
        5,
    )
    past = sessions.get_sessions(scenario.app, account_id=ACCOUNT, per_page=2, page_no=4)
    assert _ids(past) == [] and (
        past.paging.total_count,
        past.paging.start_offset,
        past.paging.end_offset,
    ) == (5, 0, 0)
    for huge in (1e21, 2.0**63, 10**30):  # past any end, and past a 64-bit SQL integer
        far = sessions.get_sessions(scenario.app, account_id=ACCOUNT, page_no=huge)
        assert _ids(far) == [] and (far.paging.total_count, far.paging.end_offset) == (5, 0)
    wide = sessions.get_sessions(scenario.app, account_id=ACCOUNT, participants=f"0:{10**30}")
    assert len(_ids(wide)) == 5
    ascending = sessions.get_sessions(scenario.app, account_id=ACCOUNT, sort_order="ASC")
    assert _ids(ascending) == expected[::-1]


def test_filters_search_and_sorting(client: Cloudflare, scenario: Scenario) -> None:
    s = client.realtime_kit.sessions
    by = _by_meeting(client, scenario)

    def ids(**q: Any) -> set[str]:
        return set(_ids(s.get_sessions(scenario.app, account_id=ACCOUNT, **q)))

    assert ids(search="RENAMED") == {by["B"].id}
    assert ids(search="weekly") == {by["A"].id, by["B"].id}
    assert ids(search=scenario.m3[4:20]) == {by[scenario.m3].id}
    assert ids(search=by["A"].id[:13]) == {by["A"].id}
    assert ids(search="50%") == set()
    assert ids(search="ly s") == {by["A"].id, by["B"].id}  # spans a word boundary
    assert ids(search="yN") == {by["A"].id, by["B"].id}  # under 3 characters: scanned
    assert ids(search='sync "') == set()
    assert ids(status="LIVE") == {by[scenario.m2].id}
    assert ids(participants="3") == {by["A"].id}
    assert ids(participants="2:2") == {
        by[scenario.m2].id,
        by[scenario.m3].id,
        by[scenario.breakout].id,
    }
    assert ids(participants=":1") == {by["B"].id}
    assert ids(associated_id=scenario.m1) == {by["A"].id, by["B"].id}
    assert ids(start_time=T0 + timedelta(hours=1), end_time=at(1440)) == {by["B"].id}
    assert ids(start_time=at(1440), end_time=T0 + timedelta(days=1, minutes=1)) == {
        by[scenario.m3].id
    }
    by_minutes = _ids(
        s.get_sessions(
            scenario.app, account_id=ACCOUNT, sort_by="minutesConsumed", sort_order="ASC"
        )
    )
    assert by_minutes == [by[k].id for k in ("B", scenario.breakout, scenario.m2, scenario.m3, "A")]


def test_breakout_rooms(client: Cloudflare, scenario: Scenario) -> None:
    by = _by_meeting(client, scenario)
    s = client.realtime_kit.sessions
    with_rooms = s.get_session_details(
        by["A"].id, account_id=ACCOUNT, app_id=scenario.app, include_breakout_rooms=True
    )
    assert [r["id"] for r in with_rooms.data.breakout_rooms] == [by[scenario.breakout].id]
    assert with_rooms.data.breakout_rooms[0]["minutes_consumed"] == 20
    plain = s.get_session_details(by["A"].id, account_id=ACCOUNT, app_id=scenario.app)
    assert plain.data.breakout_rooms == []


def test_participants_raw(client: Cloudflare, scenario: Scenario) -> None:
    sid = _by_meeting(client, scenario)["A"].id
    s = client.realtime_kit.sessions
    resp = s.get_session_participants(sid, account_id=ACCOUNT, app_id=scenario.app)
    rows = resp.data.participants
    assert [(p.id, p.duration, p.joined_at, p.left_at) for p in rows] == [
        ("a1", 30, at(0), at(30)),
        ("b1", 5, at(5), at(10)),
        ("b2", 10, at(10), at(20)),
        ("c1", 30, at(10), at(40)),
    ]
    assert (
        rows[0].peer_events is None
        and rows[0].preset_name == "host"
        and rows[0].custom_participant_id == "c-alice"
    )
    for view in ("raw", "consolidated"):
        far = s.get_session_participants(
            sid, account_id=ACCOUNT, app_id=scenario.app, page_no=1e25, view=view
        )
        assert far.data.participants == [] and far.to_dict()["data"]["paging"]["total_count"] == 4
    by_duration = s.get_session_participants(
        sid,
        account_id=ACCOUNT,
        app_id=scenario.app,
        sort_by="duration",
        sort_order="DESC",
        per_page=3,
    )
    assert [p.id for p in by_duration.data.participants] == ["c1", "a1", "b2"]
    assert by_duration.to_dict()["data"]["paging"] == {
        "total_count": 4,
        "start_offset": 1,
        "end_offset": 3,
    }
    bobs = s.get_session_participants(
        sid, account_id=ACCOUNT, app_id=scenario.app, search="BOB", include_peer_events=True
    )
    assert [p.id for p in bobs.data.participants] == ["b1", "b2"]
    events = bobs.data.participants[1].peer_events
    assert [(e.event_name, e.created_at, e.minutes_consumed) for e in events] == [
        ("PEER_CREATED", at(10), 0),
        ("PEER_JOINING", at(10), 0),
        ("PEER_LEAVING", at(20), 10),
    ]
    assert {e.participant_id for e in events} == {"u-bob"} and {e.session_id for e in events} == {
        sid
    }


def test_participants_consolidated(client: Cloudflare, scenario: Scenario) -> None:
    sid = _by_meeting(client, scenario)["A"].id
    resp = client.realtime_kit.sessions.get_session_participants(
        sid, account_id=ACCOUNT, app_id=scenario.app, view="consolidated", include_peer_events=True
    )
    rows = {p.user_id: p for p in resp.data.participants}
    assert set(rows) == {"u-alice", "u-bob", "u-carol", "u-erin"}
    alice, bob = rows["u-alice"], rows["u-bob"]
    assert (alice.id, alice.duration, alice.joined_at, alice.left_at) == ("a1", 30, at(0), at(30))
    assert (bob.id, bob.duration, bob.left_at) == ("b1", 15, at(20))
    assert rows["u-erin"].duration == 13
    assert len(alice.peer_events) == 6 and {e.peer_id for e in alice.peer_events} == {"a1", "a2"}


def test_participant_details_and_not_found(client: Cloudflare, scenario: Scenario) -> None:
    s = client.realtime_kit.sessions
    sid = _by_meeting(client, scenario)["A"].id
    p = s.get_session_participant_details(
        "b2", account_id=ACCOUNT, app_id=scenario.app, session_id=sid
    )
    assert (p.data.participant.duration, p.data.participant.left_at) == (10, at(20))
    with pytest.raises(cloudflare.NotFoundError):
        s.get_session_participant_details(
            "e1", account_id=ACCOUNT, app_id=scenario.app, session_id=sid
        )
    with pytest.raises(cloudflare.NotFoundError):
        s.get_session_details(str(uuid.uuid4()), account_id=ACCOUNT, app_id=scenario.app)
    with pytest.raises(cloudflare.NotFoundError) as not_uuid:
        s.get_session_details("not-a-uuid", account_id=ACCOUNT, app_id=scenario.app)
    assert "No session found with id not-a-uuid" in str(not_uuid.value)


def test_bad_queries_are_400(client: Cloudflare, scenario: Scenario) -> None:
    s = client.realtime_kit.sessions
    for bad in (
        {"sort_by": "duration"},
        {"participants": "5:2"},
        {"per_page": 101},
        {"start_time": "yesterday"},
    ):
        with pytest.raises(cloudflare.BadRequestError) as exc:
            s.get_sessions(scenario.app, account_id=ACCOUNT, **bad)
        assert exc.value.errors and exc.value.errors[0].code == 400


def test_auth_errors(server: Any, scenario: Scenario) -> None:
    base = f"{server.base_url}/client/v4"
    wrong = Cloudflare(api_token="rtk_0123456789abcdef_nope", base_url=base, max_retries=0)
    with pytest.raises(cloudflare.AuthenticationError):
        wrong.realtime_kit.sessions.get_sessions(scenario.app, account_id=ACCOUNT)
    other = Cloudflare(api_token=server.token("acct-other", "read"), base_url=base, max_retries=0)
    with pytest.raises(cloudflare.PermissionDeniedError) as denied:
        other.realtime_kit.sessions.get_sessions(scenario.app, account_id=ACCOUNT)
    assert denied.value.errors and denied.value.errors[0].code == 10000
    keyed = Cloudflare(api_email="a@example.com", api_key="k", base_url=base, max_retries=0)
    with pytest.raises(cloudflare.AuthenticationError) as legacy:
        keyed.realtime_kit.sessions.get_sessions(scenario.app, account_id=ACCOUNT)
    assert "Bearer" in str(legacy.value)
