"""Derived data depends only on the set of accepted events (docs/accounting.md): the same events in
one batch, or shuffled into many, give the same API output, and `rebuild` reproduces it."""

from __future__ import annotations

import difflib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from rtk_sessions.auth.repo import ensure_app
from rtk_sessions.ingest import repo as events_repo
from rtk_sessions.ingest import service as ingest
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.ids import session_id as make_session_id
from rtk_sessions.kit.tables import events as events_table
from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.sessions import service as session_service
from rtk_sessions.sessions.queries import ParticipantsRequest
from rtk_sessions.sessions.repo import ParticipantQuery, SessionQuery

T0 = 1_767_607_200_000  # 2026-01-05T10:00:00.000Z
GRID = 60_000  # a coarse grid, so equal and touching instants are common
SLOTS = 6
NOW = T0 + 24 * 3_600_000  # the server clock for every batch and every read
PARENT, BREAKOUT = "m0", "br"
MEETINGS = ("m0", "m1", "m2")
GHOSTS = ("g0", "g1")  # senders who never join
BUSY = ("m0", "m0", "m0", "br", "br", "m1", "m2")  # peers crowd into the parent and its room

Event = dict[str, Any]


# --- scenarios --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    events: list[Event]  # in delivery order (a), duplicates included
    batches: list[list[Event]]  # the same events shuffled into batches (b)
    meetings: tuple[str, ...]
    peers: tuple[str, ...]


def _at(slot: int) -> int | str:
    """Some timestamps as epoch ms, some as RFC 3339: both must give the same instant."""
    ms = T0 + slot * GRID
    return ms if slot % 3 == 0 else to_iso(ms)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    meetings = MEETINGS[: draw(st.integers(2, 3))]
    with_breakout = draw(st.integers(0, 3)) > 0
    rooms = (*meetings, BREAKOUT) if with_breakout else meetings
    slot = st.integers(0, SLOTS)
    events: list[Event] = []

    def add(eid: str, etype: str, meeting: str, at: int, **fields: Any) -> None:
        events.append(
            {"id": eid, "type": etype, "meeting_id": meeting, "occurred_at": _at(at), **fields}
        )

    n_peers = draw(st.integers(3, 8))
    peers = tuple(f"p{i}" for i in range(n_peers))
    for i, peer in enumerate(peers):
        meeting = draw(st.sampled_from([m for m in BUSY if m in rooms]))
        joined = draw(slot)
        extra: dict[str, Any] = {}
        if meeting == BREAKOUT:
            extra["parent_meeting_id"] = PARENT
        if draw(st.integers(0, 5)) == 0:
            extra["meeting_title"] = f"joined-title-{i}"
        user = draw(st.sampled_from([None, "u0", "u1", "u2"]))
        custom = draw(st.sampled_from([None, "c0", "c1"]))
        if user:
            extra["user_id"] = user
        if custom:
            extra["custom_participant_id"] = custom
        declared = draw(st.sampled_from([None, None, 0, 1]))
        if declared is not None:  # ids named by the producer; one meeting's sessions may clash
            extra["session_id"] = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{meeting}/{declared}"))
        add(f"join-{peer}", "peer.joined", meeting, joined, peer_id=peer,
            display_name=f"Name {peer}", **extra)  # fmt: skip
        if draw(st.integers(0, 2)) == 0:  # a second join: only the earliest counts
            other = draw(st.sampled_from(rooms))  # another meeting: the peer may move
            again = {"parent_meeting_id": PARENT} if other == BREAKOUT else {}
            add(f"join2-{peer}", "peer.joined", other, draw(slot), peer_id=peer,
                display_name=f"Again {peer}", **again)  # fmt: skip
        kind = draw(st.sampled_from(["none", "none", "after", "after", "after", "same", "before"]))
        if kind != "none":
            offset = {"after": draw(st.integers(1, 3)), "same": 0, "before": -1}[kind]
            add(f"left-{peer}", "peer.left", meeting, joined + offset, peer_id=peer)
        if draw(st.integers(0, 5)) == 0:
            add(f"left2-{peer}", "peer.left", meeting, draw(slot), peer_id=peer)

    for meeting in rooms:
        if draw(st.integers(0, 3)) == 0:
            add(f"end-{meeting}", "meeting.ended", meeting, draw(slot))
    for n in range(draw(st.integers(0, 3))):
        fields = draw(st.sampled_from([
            {"title": f"title-{n}"},
            {"title": f"title-{n}", "meta": {"n": n}},
            {"session_type": "livestream"},
            {"title": f"title-{n}", "session_type": "participant"},
        ]))  # fmt: skip
        add(f"upd-{n}", "meeting.updated", draw(st.sampled_from(rooms)), draw(slot), **fields)
    senders = st.one_of(st.sampled_from(peers), st.sampled_from(GHOSTS))  # half never joined
    busy = st.sampled_from([m for m in BUSY if m in rooms])
    for n in range(draw(st.integers(0, 5))):
        sender, meeting = draw(senders), draw(busy)
        add(f"chat-{n}", "chat.message", meeting, draw(slot), peer_id=sender,
            message_id=f"msg-{n}", payload=f"hello {n}")  # fmt: skip
    for n in range(draw(st.integers(0, 2))):
        sender, meeting = draw(senders), draw(busy)
        add(f"pev-{n}", "peer.event", meeting, draw(slot), peer_id=sender, name="audio_off")

    resent = draw(st.lists(st.sampled_from(range(len(events))), max_size=4))
    events.extend(dict(events[i]) for i in resent)  # identical resends of the same id

    shuffled = draw(st.permutations(events))
    cuts = draw(st.lists(st.booleans(), min_size=len(shuffled), max_size=len(shuffled)))
    batches: list[list[Event]] = [[]]
    for item, cut in zip(shuffled, cuts, strict=True):
        if cut and batches[-1]:
            batches.append([])
        batches[-1].append(item)
    return Scenario(events, batches, rooms, peers)


# --- delivery and the API output ---------------------------------------------------------


async def new_app(db: Database) -> AppRef:
    app_id = f"app-{uuid.uuid4().hex[:12]}"
    async with db.write() as conn:
        pk = await ensure_app(conn, "acct-order", app_id, NOW)
    return AppRef(pk, app_id)


async def deliver(db: Database, app: AppRef, batches: list[list[Event]]) -> tuple[int, int, int]:
    accepted = duplicates = pending = 0
    for batch in batches:
        valid = ingest.check_batch(batch, NOW)
        async with db.write() as conn:
            result = await ingest.store(conn, app, valid, NOW, 0)
        accepted += result.accepted
        duplicates += result.duplicates
        pending = result.pending
    return accepted, duplicates, pending


async def api_output(db: Database, app: AppRef, scenario: Scenario) -> str:
    """Everything the read API serves for the app, with app-specific ids made neutral."""
    out: dict[str, Any] = {}
    async with db.read() as conn:
        sessions, paging = await session_service.list_sessions(
            conn, app, SessionQuery(per_page=100, descending=False), NOW
        )
        assert paging.total_count == len(sessions)
        out["sessions"] = sessions
        for s in sessions:
            detail: dict[str, Any] = {
                "get": await session_service.get_session(conn, app, s.id, True, NOW)
            }
            for view in ("raw", "consolidated"):
                req = ParticipantsRequest(
                    ParticipantQuery(per_page=100), True, view == "consolidated"
                )
                rows, page = await session_service.list_participants(conn, app, s.id, req, NOW)
                detail[view] = {"rows": rows, "paging": page}
            out[s.id] = detail
        out["pending"] = await events_repo.count_pending(conn, app.pk)
        placed = await conn.execute(
            select(events_table.c.id, events_table.c.session_id, events_table.c.placement)
            .where(events_table.c.app_pk == app.pk)
            .order_by(events_table.c.id)
        )
        out["placements"] = [list(r) for r in placed]
    text = json.dumps(msgspec.to_builtins(out))
    for meeting in scenario.meetings:
        for peer in scenario.peers:
            text = text.replace(
                make_session_id(app.app_id, meeting, peer), f"<session {meeting}/{peer}>"
            )
    neutral = json.loads(text.replace(app.app_id, "<app>"))
    # Sessions starting at one instant are ordered by id, and ids differ from app to app.
    by_start = lambda s: (s["started_at"], s["id"])  # noqa: E731
    neutral["sessions"].sort(key=by_start)
    for s in neutral["sessions"]:
        neutral[s["id"]]["get"]["breakout_rooms"].sort(key=by_start)
    return json.dumps(neutral, sort_keys=True, indent=1)


def describe(output: str) -> None:
    """Label the example for `--hypothesis-show-statistics`."""
    data = json.loads(output)
    sessions = data["sessions"]
    event(f"sessions: {len(sessions)}")
    event(f"pending: {'some' if data['pending'] else 'none'}")
    event(f"LIVE: {any(s['status'] == 'LIVE' for s in sessions)}")
    event(f"breakout linked: {any(data[s['id']]['get']['breakout_rooms'] for s in sessions)}")
    event(f"placed by time: {any(p[2] == 2 for p in data['placements'])}")
    event(f"max concurrent ≥ 3: {any(s['max_concurrent_participants'] >= 3 for s in sessions)}")


def assert_same(actual: str, expected: str, what: str) -> None:
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "expected", what, n=8, lineterm=""
        )
        raise AssertionError(f"{what} differs:\n" + "\n".join(diff))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
async def test_the_same_events_in_any_order_and_batches_give_the_same_output(
    db: Database, scenario: Scenario
) -> None:
    one, many = await new_app(db), await new_app(db)
    unique = len({e["id"] for e in scenario.events})
    counts = (unique, len(scenario.events) - unique)

    accepted, duplicates, pending_one = await deliver(db, one, [scenario.events])
    assert (accepted, duplicates) == counts
    accepted, duplicates, pending_many = await deliver(db, many, scenario.batches)
    assert (accepted, duplicates) == counts
    assert pending_one == pending_many

    expected = await api_output(db, one, scenario)
    describe(expected)
    assert_same(await api_output(db, many, scenario), expected, "shuffled into batches")

    async with db.write() as conn:
        await ingest.rebuild_app(conn, many, 0)
    assert_same(await api_output(db, many, scenario), expected, "rebuilt")
