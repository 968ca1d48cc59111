"""Ingestion through `check_batch`/`store` on a real database, read back through the services the
API serves (docs/accounting.md): late, duplicate and pending events, merges and splits, breakout
rooms, the idle sweep and `rebuild`."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import select

from rtk_sessions.auth.repo import ensure_app
from rtk_sessions.config import Settings
from rtk_sessions.ingest import repo as events_repo
from rtk_sessions.ingest import service as ingest
from rtk_sessions.ingest.schemas import Placement
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.errors import NotFound
from rtk_sessions.kit.ids import session_id as make_session_id
from rtk_sessions.kit.tables import events as events_table
from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.sessions import service as session_service
from rtk_sessions.sessions.queries import ParticipantsRequest
from rtk_sessions.sessions.repo import ParticipantQuery, SessionQuery
from rtk_sessions.sessions.schemas import ParticipantOut, SessionOut
from rtk_sessions.upkeep.jobs import build_state
from rtk_sessions.upkeep.sweep import sweep_once

T0 = 1_767_607_200_000  # 2026-01-05T10:00:00.000Z
SEC = 1_000
MIN = 60_000
NOW = T0 + 24 * 60 * MIN  # the server clock of every batch, unless a test says otherwise
M1 = "m-1"

Event = dict[str, Any]


# --- events -----------------------------------------------------------------------------


def ev(eid: str, etype: str, meeting: str, at: int, **fields: Any) -> Event:
    """An event `at` ms after T0; odd offsets go as epoch ms, the rest as RFC 3339."""
    when: int | str = T0 + at if at % 2 else to_iso(T0 + at)
    return {"id": eid, "type": etype, "meeting_id": meeting, "occurred_at": when, **fields}


def joined(peer: str, at: int, meeting: str = M1, eid: str | None = None, **kw: Any) -> Event:
    return ev(eid or f"join-{peer}", "peer.joined", meeting, at, peer_id=peer, **kw)


def left(peer: str, at: int, meeting: str = M1, eid: str | None = None, **kw: Any) -> Event:
    return ev(eid or f"left-{peer}", "peer.left", meeting, at, peer_id=peer, **kw)


def chat(eid: str, peer: str, at: int, meeting: str = M1) -> Event:
    return ev(eid, "chat.message", meeting, at, peer_id=peer, message_id=eid, payload=f"hi {eid}")


def segment(eid: str, peer: str, started: int, meeting: str = M1) -> Event:
    return ev(
        eid, "transcript.segment", meeting, started + 10 * SEC, peer_id=peer,
        started_at=to_iso(T0 + started), text="words",
    )  # fmt: skip


def peer_event(eid: str, peer: str, at: int, meeting: str = M1) -> Event:
    return ev(eid, "peer.event", meeting, at, peer_id=peer, name="audio_off")


def peer_metadata(eid: str, peer: str, at: int, meeting: str = M1) -> Event:
    return ev(eid, "peer.metadata", meeting, at, peer_id=peer, sdk_name="web-core")


def peer_stats(eid: str, peer: str, at: int, meeting: str = M1) -> Event:
    sample = {
        "timestamp": to_iso(T0 + at), "kind": "audio", "direction": "outbound", "ssrc": 1,
        "packets_sent": 10, "bytes_sent": 1000,
    }  # fmt: skip
    return ev(eid, "peer.stats", meeting, at, peer_id=peer, samples=[sample])


def sid(peer: str, app_id: str, meeting: str = M1) -> str:
    return make_session_id(app_id, meeting, peer)


# --- the stack, in-process --------------------------------------------------------------


class Stack:
    """One app on the real database, driven the way the HTTP routes drive it."""

    def __init__(self, db: Database, app: AppRef) -> None:
        self.db = db
        self.app = app

    async def send(
        self, events: list[Event], now: int = NOW, grace_ms: int = 0
    ) -> tuple[int, int, int]:
        valid = ingest.check_batch(events, now)
        async with self.db.write() as conn:
            r = await ingest.store(conn, self.app, valid, now, grace_ms)
        return r.accepted, r.duplicates, r.pending

    async def sessions(self, now: int = NOW) -> list[SessionOut]:
        """Every session, oldest first."""
        async with self.db.read() as conn:
            rows, paging = await session_service.list_sessions(
                conn, self.app, SessionQuery(per_page=100, descending=False), now
            )
        assert paging.total_count == len(rows)
        return rows

    async def session(self, session_id: str, rooms: bool = False, now: int = NOW) -> SessionOut:
        async with self.db.read() as conn:
            return await session_service.get_session(conn, self.app, session_id, rooms, now)

    async def participants(
        self, session_id: str, consolidated: bool = False, events: bool = False, now: int = NOW
    ) -> list[ParticipantOut]:
        req = ParticipantsRequest(ParticipantQuery(per_page=100), events, consolidated)
        async with self.db.read() as conn:
            rows, _ = await session_service.list_participants(conn, self.app, session_id, req, now)
        return rows

    async def placements(self) -> dict[str, str | None]:
        """Each stored event's session (None = pending or meeting-level)."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(events_table.c.id, events_table.c.session_id).where(
                    events_table.c.app_pk == self.app.pk
                )
            )
            return {r.id: r.session_id for r in rows}

    async def pending(self) -> int:
        async with self.db.read() as conn:
            return await events_repo.count_pending(conn, self.app.pk)

    async def snapshot(self, now: int = NOW) -> dict[str, Any]:
        """Everything the read API serves about this app, plus placements and pending."""
        out: dict[str, Any] = {"sessions": msgspec.to_builtins(await self.sessions(now))}
        for s in out["sessions"]:
            sid_ = s["id"]
            out[sid_] = msgspec.to_builtins(
                {
                    "get": await self.session(sid_, True, now),
                    "raw": await self.participants(sid_, False, True, now),
                    "people": await self.participants(sid_, True, True, now),
                }
            )
        out["placements"] = await self.placements()
        out["pending"] = await self.pending()
        return out

    async def rebuild(self) -> int:
        async with self.db.write() as conn:
            return await ingest.rebuild_app(conn, self.app, 0)


@pytest.fixture
async def stack(db: Database, app_id: str) -> AsyncIterator[Stack]:
    async with db.write() as conn:
        pk = await ensure_app(conn, "acct-accounting", app_id, NOW)
    yield Stack(db, AppRef(pk, app_id))


def figures(s: SessionOut) -> tuple[Any, ...]:
    return (
        s.status,
        s.started_at,
        s.ended_at,
        s.live_participants,
        s.max_concurrent_participants,
        s.minutes_consumed,
    )


def intervals(rows: list[ParticipantOut]) -> list[tuple[str, str, str | None, float]]:
    return [(p.id, p.joined_at, p.left_at, p.duration) for p in rows]


def iso(at: int) -> str:
    return to_iso(T0 + at)


# --- late and duplicate events -----------------------------------------------------------


async def test_late_and_duplicate_events(stack: Stack, app_id: str) -> None:
    first = [
        joined("a", 0, user_id="ua", display_name="Ann"),
        joined("b", 1 * MIN, display_name="Bob"),
        left("b", 5 * MIN),
    ]
    assert await stack.send(first) == (3, 0, 0)
    read_at = T0 + 10 * MIN
    (s,) = await stack.sessions(read_at)
    assert s.id == sid("a", app_id)
    assert figures(s) == ("LIVE", iso(0), None, 1, 2, 14.0)  # a: 10 min so far, b: 4 min

    late = [left("a", 3 * MIN), joined("b", 0, display_name="Impostor")]  # same id as b's join
    assert await stack.send(late) == (1, 1, 0)
    (s,) = await stack.sessions(read_at)
    assert figures(s) == ("ENDED", iso(0), iso(5 * MIN), 0, 2, 7.0)  # 3 min + 4 min
    assert s.updated_at == to_iso(NOW)
    assert intervals(await stack.participants(s.id)) == [
        ("a", iso(0), iso(3 * MIN), 3.0),
        ("b", iso(1 * MIN), iso(5 * MIN), 4.0),
    ]
    assert [p.display_name for p in await stack.participants(s.id)] == ["Ann", "Bob"]

    before = await stack.snapshot(read_at)
    resend = [*first, *late, left("a", 1 * MIN)]  # the last one reuses left-a's id: first wins
    assert await stack.send(resend, now=NOW + 60 * MIN) == (0, 6, 0)
    assert await stack.snapshot(read_at) == before  # nothing changed, not even updated_at

    # A repeated id within one batch is a duplicate too.
    assert await stack.send([chat("c1", "a", 2 * MIN), chat("c1", "a", 2 * MIN)]) == (1, 1, 0)
    assert (await stack.placements())["c1"] == s.id


async def test_a_leave_before_its_join_is_pending_then_placed(stack: Stack, app_id: str) -> None:
    assert await stack.send([left("p", 5 * MIN)]) == (1, 0, 1)
    assert await stack.sessions() == []
    assert await stack.placements() == {"left-p": None}

    assert await stack.send([joined("p", 0)]) == (1, 0, 0)
    (s,) = await stack.sessions()
    assert s.id == sid("p", app_id)
    assert figures(s) == ("ENDED", iso(0), iso(5 * MIN), 0, 1, 5.0)
    assert await stack.placements() == {"left-p": s.id, "join-p": s.id}


async def test_a_leave_timestamped_before_its_join_is_clamped(stack: Stack) -> None:
    assert await stack.send([left("q", 2 * MIN)]) == (1, 0, 1)
    assert await stack.send([joined("q", 3 * MIN)]) == (1, 0, 0)
    (s,) = await stack.sessions()
    assert figures(s) == ("ENDED", iso(3 * MIN), iso(3 * MIN), 0, 1, 0.0)
    assert intervals(await stack.participants(s.id)) == [("q", iso(3 * MIN), iso(3 * MIN), 0.0)]


async def test_events_of_an_unknown_peer_wait_for_its_join(stack: Stack, app_id: str) -> None:
    waiting = [
        chat("c-x", "x", 5 * MIN),
        segment("t-x", "x", 6 * MIN),
        peer_event("e-x", "x", 7 * MIN),
        peer_metadata("md-x", "x", 7 * MIN),
        peer_stats("st-x", "x", 8 * MIN),
    ]
    assert await stack.send(waiting) == (5, 0, 5)
    assert set((await stack.placements()).values()) == {None}

    assert await stack.send([joined("x", 0)]) == (1, 0, 0)
    x_session = sid("x", app_id)
    assert await stack.placements() == {e["id"]: x_session for e in [*waiting, joined("x", 0)]}
    async with stack.db.read() as conn:
        rows = await conn.execute(
            select(events_table.c.id, events_table.c.placement).where(
                events_table.c.app_pk == stack.app.pk
            )
        )
        assert {r.placement for r in rows} == {Placement.BY_PEER}


async def test_chat_of_a_sender_who_never_joined_is_placed_by_time(
    stack: Stack, app_id: str
) -> None:
    assert await stack.send([joined("a", 0), left("a", 10 * MIN)]) == (2, 0, 0)
    a_session = sid("a", app_id)
    batch = [
        chat("c-y", "y", 11 * MIN),  # exactly 60 s after the end
        chat("c-z", "z", 11 * MIN + 1),  # 60.001 s after: no session
        segment("t-w", "w", -1 * MIN),  # placed at its start, 60 s before the session
    ]
    assert await stack.send(batch) == (3, 0, 1)
    placed = await stack.placements()
    assert (placed["c-y"], placed["c-z"], placed["t-w"]) == (a_session, None, a_session)

    # A new session starting at 12 min covers c-z (11 min + 1 ms ≥ 12 min − 60 s); c-y at
    # 11 min matches both sessions and stays with the earlier one.
    assert await stack.send([joined("b", 12 * MIN), left("b", 13 * MIN)]) == (2, 0, 0)
    placed = await stack.placements()
    b_session = sid("b", app_id)
    assert (placed["c-y"], placed["c-z"], placed["t-w"]) == (a_session, b_session, a_session)
    assert await stack.pending() == 0


async def test_unknown_sender_chat_in_the_batch_that_creates_the_session(
    stack: Stack, app_id: str
) -> None:
    """A chat placed by time must not depend on whether the session came in the same batch."""
    assert await stack.send([joined("a", 0), chat("c-y", "y", 1 * MIN)]) == (2, 0, 0)
    assert (await stack.placements())["c-y"] == sid("a", app_id)


async def test_an_unknown_senders_later_chat_keeps_earlier_ones_placed(
    stack: Stack, app_id: str
) -> None:
    """Placing a new chat of a sender who never joined must not unplace the sender's others."""
    await stack.send([joined("a", 0, meeting="m-a"), joined("b", 0, meeting="m-b")])
    assert await stack.send([chat("c-1", "y", 1 * MIN, meeting="m-a")]) == (1, 0, 0)
    assert await stack.send([chat("c-2", "y", 1 * MIN, meeting="m-b")]) == (1, 0, 0)
    placed = await stack.placements()
    assert (placed["c-1"], placed["c-2"]) == (sid("a", app_id, "m-a"), sid("b", app_id, "m-b"))


# --- late events reshape sessions --------------------------------------------------------


async def test_a_late_join_bridging_a_gap_merges_two_sessions(stack: Stack, app_id: str) -> None:
    await stack.send(
        [
            joined("a", 0),
            left("a", 10 * MIN),
            joined("b", 20 * MIN),
            left("b", 30 * MIN),
        ]
    )
    await stack.send(
        [
            chat("c-b", "b", 25 * MIN),
            chat("c-q", "q", 22 * MIN),  # a sender who never joined: placed by time
        ]
    )
    a_id, b_id = sid("a", app_id), sid("b", app_id)
    assert [s.id for s in await stack.sessions()] == [a_id, b_id]
    assert (await stack.placements())["c-q"] == b_id

    assert await stack.send([joined("c", 5 * MIN), left("c", 25 * MIN)]) == (2, 0, 0)
    (s,) = await stack.sessions()
    assert s.id == a_id
    assert figures(s) == ("ENDED", iso(0), iso(30 * MIN), 0, 2, 40.0)  # 10 + 20 + 10 min
    assert intervals(await stack.participants(a_id)) == [
        ("a", iso(0), iso(10 * MIN), 10.0),
        ("c", iso(5 * MIN), iso(25 * MIN), 20.0),
        ("b", iso(20 * MIN), iso(30 * MIN), 10.0),
    ]
    with pytest.raises(NotFound, match=b_id):
        await stack.session(b_id)
    with pytest.raises(NotFound):
        await stack.participants(b_id)
    placed = await stack.placements()
    assert (placed["c-b"], placed["c-q"]) == (a_id, a_id)


async def test_a_late_leave_splits_a_session(stack: Stack, app_id: str) -> None:
    await stack.send(
        [
            joined("a", 0),
            joined("b", 20 * MIN),
            left("b", 30 * MIN),
        ]
    )
    await stack.send([chat("c-q", "q", 25 * MIN), chat("c-a", "a", 5 * MIN)])
    a_id, b_id = sid("a", app_id), sid("b", app_id)
    (s,) = await stack.sessions(T0 + 40 * MIN)
    assert s.id == a_id
    assert figures(s) == ("LIVE", iso(0), None, 1, 2, 50.0)  # a: 40 min so far, b: 10 min
    with pytest.raises(NotFound):
        await stack.session(b_id)

    assert await stack.send([left("a", 10 * MIN)]) == (1, 0, 0)
    first, second = await stack.sessions(T0 + 40 * MIN)
    assert (first.id, second.id) == (a_id, b_id)
    assert figures(first) == ("ENDED", iso(0), iso(10 * MIN), 0, 1, 10.0)
    assert figures(second) == ("ENDED", iso(20 * MIN), iso(30 * MIN), 0, 1, 10.0)
    assert figures(await stack.session(b_id)) == figures(second)
    assert [p.id for p in await stack.participants(a_id)] == ["a"]
    assert [p.id for p in await stack.participants(b_id)] == ["b"]
    placed = await stack.placements()
    assert (placed["c-a"], placed["c-q"], placed["left-b"]) == (a_id, b_id, b_id)


@pytest.mark.parametrize("target", ["m-0", "m-2"])  # sorting before and after M1
async def test_a_late_earlier_join_elsewhere_moves_the_peer_and_its_events(
    stack: Stack, app_id: str, target: str
) -> None:
    first = [joined("p", 0, eid="join-p-m1"), chat("c-p", "p", 1 * MIN), left("p", 5 * MIN)]
    await stack.send(first)
    old_id = sid("p", app_id, M1)
    assert set((await stack.placements()).values()) == {old_id}

    assert await stack.send([joined("p", -1 * MIN, meeting=target, eid="join-p-x")]) == (1, 0, 0)
    new_id = sid("p", app_id, target)
    (s,) = await stack.sessions()
    assert (s.id, s.associated_id) == (new_id, target)
    assert figures(s) == ("ENDED", iso(-1 * MIN), iso(5 * MIN), 0, 1, 6.0)
    with pytest.raises(NotFound):
        await stack.session(old_id)
    placed = await stack.placements()
    assert placed == {"join-p-m1": new_id, "c-p": new_id, "left-p": new_id, "join-p-x": new_id}


# --- breakout rooms -----------------------------------------------------------------------


async def test_a_breakout_room_links_to_its_parent_and_keeps_it_live(
    stack: Stack, app_id: str
) -> None:
    await stack.send(
        [
            joined("a", 0, meeting="P", meeting_title="Main"),
            left("a", 30 * MIN, meeting="P"),
            joined("b", 10 * MIN, meeting="C", parent_meeting_id="P", user_id="ub"),
            joined("c", 15 * MIN, meeting="C", parent_meeting_id="P", user_id="ua"),
            left("c", 20 * MIN, meeting="C"),
        ]
    )
    parent_id, child_id = sid("a", app_id, "P"), sid("b", app_id, "C")
    read_at = T0 + 60 * MIN
    parent, child = await stack.sessions(read_at)
    assert (parent.id, child.id) == (parent_id, child_id)
    # The parent is LIVE because of its child; its own figures count only its own peer.
    assert figures(parent) == ("LIVE", iso(0), None, 0, 1, 30.0)
    assert parent.meeting_display_name == "Main"
    assert figures(child) == ("LIVE", iso(10 * MIN), None, 1, 2, 55.0)  # b 50 min, c 5 min
    got = await stack.session(parent_id, rooms=True, now=read_at)
    assert got.breakout_rooms == [child]
    assert (await stack.session(parent_id, now=read_at)).breakout_rooms == []
    assert (await stack.session(child_id, rooms=True, now=read_at)).breakout_rooms == []
    assert [p.id for p in await stack.participants(parent_id)] == ["a"]
    people = await stack.participants(parent_id, consolidated=True, now=read_at)
    assert intervals(people) == [
        ("a", iso(0), iso(30 * MIN), 30.0),
        ("b", iso(10 * MIN), None, 50.0),
        ("c", iso(15 * MIN), iso(20 * MIN), 5.0),
    ]

    later = NOW + 5 * MIN
    assert await stack.send([left("b", 40 * MIN, meeting="C")], now=later) == (1, 0, 0)
    parent, child = await stack.sessions(read_at)
    assert figures(child) == ("ENDED", iso(10 * MIN), iso(40 * MIN), 0, 2, 35.0)
    assert figures(parent) == ("ENDED", iso(0), iso(40 * MIN), 0, 1, 30.0)  # ends with its child
    assert (parent.updated_at, child.updated_at) == (to_iso(later), to_iso(later))


async def test_a_breakout_room_before_its_parent_is_reparented(stack: Stack, app_id: str) -> None:
    await stack.send(
        [
            joined("b", 10 * MIN, meeting="C", parent_meeting_id="P"),
            left("b", 20 * MIN, meeting="C"),
        ]
    )
    child_id = sid("b", app_id, "C")
    (alone,) = await stack.sessions()
    assert alone.id == child_id
    assert (await stack.session(child_id, rooms=True)).breakout_rooms == []

    await stack.send(
        [
            joined("a", 0, meeting="P"),
            left("a", 30 * MIN, meeting="P"),
            # Starts a minute after the parent's end: no tolerance, so it stands alone.
            joined("d", 31 * MIN, meeting="C2", parent_meeting_id="P"),
        ]
    )
    parent_id = sid("a", app_id, "P")
    assert [s.id for s in await stack.sessions()] == [parent_id, child_id, sid("d", app_id, "C2")]
    parent = await stack.session(parent_id, rooms=True)
    assert [r.id for r in parent.breakout_rooms] == [child_id]
    assert parent.breakout_rooms[0] == await stack.session(child_id)
    assert figures(parent) == ("ENDED", iso(0), iso(30 * MIN), 0, 1, 30.0)
    people = await stack.participants(parent_id, consolidated=True)
    assert [p.id for p in people] == ["a", "b"]


async def test_a_join_that_does_not_count_makes_no_breakout_room(stack: Stack, app_id: str) -> None:
    await stack.send(
        [
            joined("a", 0, meeting="P"),
            left("a", 60 * MIN, meeting="P"),
            joined("c", 10 * MIN, meeting="C"),
            left("c", 20 * MIN, meeting="C"),
            joined("b", 0, meeting="M"),
            # b's earliest join is in M: this later one changes nothing, its parent included.
            joined("b", 15 * MIN, meeting="C", eid="join2-b", parent_meeting_id="P"),
        ]
    )
    assert (await stack.session(sid("a", app_id, "P"), rooms=True)).breakout_rooms == []
    assert [p.id for p in await stack.participants(sid("c", app_id, "C"))] == ["c"]


async def test_a_chain_of_breakout_rooms_links_the_same_in_any_order(
    db: Database, app_id: str
) -> None:
    rooms = [
        [joined("g", 0, meeting="A"), left("g", 60 * MIN, meeting="A")],
        [
            joined("p", 5 * MIN, meeting="Z", parent_meeting_id="A"),
            left("p", 50 * MIN, meeting="Z"),
        ],
        [
            joined("c", 10 * MIN, meeting="B", parent_meeting_id="Z"),
            left("c", 20 * MIN, meeting="B"),
        ],
    ]
    outputs = []
    for n, order in enumerate(([0, 1, 2], [0, 2, 1])):
        async with db.write() as conn:
            pk = await ensure_app(conn, f"acct-chain-{n}", app_id, NOW)
        stack = Stack(db, AppRef(pk, app_id))  # one app id in two accounts: the same session ids
        for i in order:
            await stack.send(rooms[i])
        outputs.append(await stack.snapshot())
    assert outputs[0] == outputs[1]
    # One level of nesting: Z is A's room; B, a room of a room, stands alone.
    by_meeting = {s.associated_id: s for s in await stack.sessions()}
    rooms = (await stack.session(by_meeting["A"].id, rooms=True)).breakout_rooms
    assert [r.associated_id for r in rooms] == ["Z"]
    assert (await stack.session(by_meeting["Z"].id, rooms=True)).breakout_rooms == []


# --- the idle sweep -----------------------------------------------------------------------


async def test_the_idle_sweep_closes_peers_at_their_last_event_and_a_real_leave_wins(
    stack: Stack, db: Database, app_id: str, tmp_path: Path
) -> None:
    # Received long before every other test's events, so the sweep below touches only this app.
    received = T0 + 30 * MIN
    await stack.send(
        [
            joined("p1", 0),
            joined("p2", 1 * MIN),
            joined("p3", 2 * MIN),
            left("p3", 3 * MIN),
            chat("c-p1", "p1", 5 * MIN),
            peer_event("e-p2", "p2", 7 * MIN),
            peer_metadata("md-p2", "p2", 8 * MIN),
            joined("p4", 9 * MIN),  # its last event is its join
        ],
        now=received,
    )
    state = dataclasses.replace(
        build_state(Settings(data_dir=tmp_path, database_url=db.url, session_idle_timeout=600.0)),
        db=db,
    )
    session_id = sid("p1", app_id)

    await sweep_once(state, received + 600 * SEC - 1)
    (s,) = await stack.sessions(T0 + 10 * MIN)
    assert figures(s) == ("LIVE", iso(0), None, 3, 3, 21.0)  # 10 + 9 + 1 + 1 min

    swept_at = received + 600 * SEC + 1
    assert await sweep_once(state, swept_at) >= 3
    # p4's inferred leave is its join at 9 min; the others end by 8 min: the session splits.
    p4_session = sid("p4", app_id)
    first, second = await stack.sessions(T0 + 10 * MIN)
    assert (first.id, second.id) == (session_id, p4_session)
    assert figures(first) == ("ENDED", iso(0), iso(8 * MIN), 0, 3, 13.0)  # 5 + 7 + 1 min
    assert figures(second) == ("ENDED", iso(9 * MIN), iso(9 * MIN), 0, 1, 0.0)
    assert (first.updated_at, second.updated_at) == (to_iso(swept_at), to_iso(swept_at))
    assert intervals(await stack.participants(session_id)) == [
        ("p1", iso(0), iso(5 * MIN), 5.0),  # its chat
        ("p2", iso(1 * MIN), iso(8 * MIN), 7.0),  # its peer.metadata
        ("p3", iso(2 * MIN), iso(3 * MIN), 1.0),  # its own leave
    ]
    assert intervals(await stack.participants(p4_session)) == [
        ("p4", iso(9 * MIN), iso(9 * MIN), 0.0)
    ]

    async def inferred() -> list[tuple[str | None, str, int, int, str | None]]:
        async with db.read() as conn:
            rows = await conn.execute(
                select(events_table)
                .where(events_table.c.app_pk == stack.app.pk, events_table.c.inferred.is_(True))
                .order_by(events_table.c.peer_id)
            )
            return [(r.peer_id, r.type, r.occurred_at, r.received_at, r.session_id) for r in rows]

    stored = [
        ("p1", "peer.left", T0 + 5 * MIN, swept_at, session_id),
        ("p2", "peer.left", T0 + 8 * MIN, swept_at, session_id),
        ("p4", "peer.left", T0 + 9 * MIN, swept_at, p4_session),
    ]
    assert await inferred() == stored
    assert await stack.pending() == 0
    await sweep_once(state, swept_at + 3_600 * SEC)  # nothing open any more: nothing new
    assert await inferred() == stored

    # A real leave later than the inferred one replaces it, and the sessions merge again.
    assert await stack.send([left("p1", 20 * MIN)], now=received + 30 * MIN) == (1, 0, 0)
    (s,) = await stack.sessions()
    assert s.id == session_id
    assert figures(s) == ("ENDED", iso(0), iso(20 * MIN), 0, 3, 28.0)  # 20 + 7 + 1 + 0 min
    assert s.updated_at == to_iso(received + 30 * MIN)
    assert intervals(await stack.participants(session_id)) == [
        ("p1", iso(0), iso(20 * MIN), 20.0),
        ("p2", iso(1 * MIN), iso(8 * MIN), 7.0),
        ("p3", iso(2 * MIN), iso(3 * MIN), 1.0),
        ("p4", iso(9 * MIN), iso(9 * MIN), 0.0),
    ]
    with pytest.raises(NotFound):
        await stack.session(p4_session)
    # Kept as stored, just outranked (and p4's follows its peer into the merged session).
    assert await inferred() == [
        *stored[:2],
        ("p4", "peer.left", T0 + 9 * MIN, swept_at, session_id),
    ]

    before = await stack.snapshot()
    await stack.rebuild()
    assert await stack.snapshot() == before


# --- rebuild ------------------------------------------------------------------------------


async def test_rebuild_reproduces_the_api_output_exactly(stack: Stack) -> None:
    await stack.send(
        [
            ev("u1", "meeting.updated", "P", 0, title="Planning", meta={"team": "core"}),
            joined("a", 0, meeting="P", user_id="ua", display_name="Ann"),
            joined("a2", 12 * MIN, meeting="P", user_id="ua", display_name="Ann again"),
            joined("b", 1 * MIN, meeting="P", custom_participant_id="cb"),
            left("a", 10 * MIN, meeting="P"),
            joined("c", 5 * MIN, meeting="C", parent_meeting_id="P", user_id="ua"),
            left("c", 15 * MIN, meeting="C"),
            chat("ch-1", "b", 3 * MIN, meeting="P"),
            chat("ch-2", "ghost", 50 * MIN, meeting="Q"),  # pending: Q has no session
            peer_stats("st-z", "z", 4 * MIN, meeting="P"),  # pending: z never joined
            left("y", 4 * MIN, meeting="Q"),  # pending: y never joined
        ]
    )
    await stack.send(
        [
            ev("end-p", "meeting.ended", "P", 20 * MIN),
            ev("u2", "meeting.updated", "P", 25 * MIN, title="Renamed after the end"),
            joined("d", 30 * MIN, meeting="P", display_name="Late"),
            segment("seg-1", "d", 31 * MIN, meeting="P"),
            left("d", 31 * MIN, meeting="P", eid="left-a"),  # a duplicate id: ignored
        ],
        now=NOW + 1,
    )
    before = await stack.snapshot()
    assert before["pending"] == 3
    assert [s["meeting_display_name"] for s in before["sessions"]] == [
        "Planning", "", "Renamed after the end"
    ]  # fmt: skip
    assert await stack.rebuild() == 3  # C, P, Q
    assert await stack.snapshot() == before
    assert await stack.snapshot(T0 + 35 * MIN) != before  # the LIVE session's figures moved


RTK_SID = "05e57591-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


async def test_a_session_takes_the_id_its_first_join_declares(stack: Stack, app_id: str) -> None:
    # The earliest join declares the id; a later one declaring another changes nothing.
    other = "11111111-2222-4333-8444-555555555555"
    await stack.send([joined("b", 1 * MIN, session_id=other), left("b", 2 * MIN)])
    (s,) = await stack.sessions()
    assert s.id == other  # b's join is the earliest so far
    await stack.send([joined("a", 0, session_id=RTK_SID), chat("c1", "b", 90 * SEC)])
    (s,) = await stack.sessions()
    assert s.id == RTK_SID
    assert (await stack.placements())["c1"] == RTK_SID
    assert [p.id for p in await stack.participants(RTK_SID)] == ["a", "b"]

    # A second session of the meeting claiming the same id keeps its generated one.
    await stack.send([left("a", 3 * MIN), joined("c", 60 * MIN, session_id=RTK_SID)])
    first, second = await stack.sessions()
    assert (first.id, second.id) == (RTK_SID, sid("c", app_id))

    # So does a session of another meeting claiming an id that is taken already.
    await stack.send([joined("d", 0, meeting="m-2", session_id=RTK_SID)])
    assert (await stack.session(sid("d", app_id, "m-2"))).associated_id == "m-2"
    assert (await stack.session(RTK_SID)).associated_id == M1
    before = await stack.snapshot()
    await stack.rebuild()
    assert await stack.snapshot() == before


async def test_a_declared_session_id_must_be_a_lower_case_uuid(stack: Stack) -> None:
    with pytest.raises(ingest.BatchRefused) as refused:
        await stack.send([joined("a", 0, session_id=RTK_SID.upper())])
    assert "events[0].session_id: must be a UUID in lower-case hex" in str(refused.value.details)
