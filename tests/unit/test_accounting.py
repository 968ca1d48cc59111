"""Session accounting (docs/accounting.md) as pure functions, on hand-computed figures.

Times are offsets from T0 in milliseconds unless they are whole instants; every expected figure
below is worked out by hand in the comment next to it.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from rtk_sessions.kit.ids import peer_event_id
from rtk_sessions.kit.ids import session_id as make_session_id
from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.sessions.accounting import (
    PLACEMENT_TOLERANCE_MS,
    Join,
    Leave,
    MeetingEnd,
    MeetingEvents,
    MeetingUpdate,
    Session,
    Span,
    derive_meeting,
    earliest_joins,
    effective_end,
    interval_ms,
    max_concurrent,
    minutes,
    parent_meeting_of,
    parent_session_for,
    place_by_time,
    union_ms,
)
from rtk_sessions.sessions.consolidation import consolidate, person_key
from rtk_sessions.sessions.repo import PeerRow, SessionRow
from rtk_sessions.sessions.schemas import participant_out, session_out

T0 = 1_767_607_200_000  # 2026-01-05T10:00:00.000Z
SEC = 1_000
MIN = 60_000
RCV = T0 + 600 * MIN  # when the events were received, unless a test says otherwise
APP = "app-unit"
MEETING = "m-1"


def sid(peer: str, meeting: str = MEETING, app: str = APP) -> str:
    return make_session_id(app, meeting, peer)


def join(
    peer: str, at: int, *, eid: str | None = None, meeting: str = MEETING, rcv: int = RCV, **kw: Any
) -> Join:
    return Join(eid or f"join-{peer}", peer, meeting, T0 + at, rcv, **kw)


def leave(
    peer: str, at: int, *, eid: str | None = None, inferred: bool = False, rcv: int = RCV
) -> Leave:
    return Leave(eid or f"left-{peer}-{at}", peer, T0 + at, rcv, inferred)


def end(at: int, *, eid: str = "end-1", rcv: int = RCV) -> MeetingEnd:
    return MeetingEnd(eid, T0 + at, rcv)


def update(at: int, eid: str, *, rcv: int = RCV, **kw: Any) -> MeetingUpdate:
    return MeetingUpdate(eid, T0 + at, rcv, **kw)


def derive(
    joins: Sequence[Join] = (),
    leaves: Sequence[Leave] = (),
    ends: Sequence[MeetingEnd] = (),
    updates: Sequence[MeetingUpdate] = (),
    *,
    grace_ms: int = 0,
    meeting: str = MEETING,
) -> list[Session]:
    return derive_meeting(
        MeetingEvents(APP, meeting, list(joins), list(leaves), list(ends), list(updates)), grace_ms
    )


def spans(session: Session) -> dict[str, tuple[int, int | None]]:
    """Each peer's interval as offsets from T0."""
    return {
        p.peer_id: (p.joined_at - T0, None if p.left_at is None else p.left_at - T0)
        for p in session.peers
    }


def ended(session: Session) -> int | None:
    return None if session.own_ended_at is None else session.own_ended_at - T0


# --- sessions: reconnects, touching, clamping, duplicates -------------------------------


def test_reconnect_with_a_new_peer_id_is_a_second_peer_of_the_same_session() -> None:
    # u1 drops at 60 s and comes back as p2 at 90 s; p3 keeps the session together.
    sessions = derive(
        [
            join("p1", 0, user_id="u1"),
            join("p3", 0, user_id="u2"),
            join("p2", 90 * SEC, user_id="u1"),
        ],
        [leave("p1", 60 * SEC), leave("p2", 150 * SEC), leave("p3", 200 * SEC)],
    )
    assert len(sessions) == 1
    s = sessions[0]
    assert s.id == sid("p1")  # p1 and p3 both join at 0: the lower peer id names it
    assert spans(s) == {"p1": (0, 60 * SEC), "p2": (90 * SEC, 150 * SEC), "p3": (0, 200 * SEC)}
    assert [p.user_id for p in s.peers] == ["u1", "u2", "u1"]  # by (joined_at, peer id)
    assert s.started_at == T0
    assert ended(s) == 200 * SEC
    assert s.max_concurrent == 2  # {p1, p3}, then {p3, p2}
    assert s.closed_ms == 60 * SEC + 60 * SEC + 200 * SEC
    assert (s.open_count, s.open_join_sum_ms, s.is_live) == (0, 0, False)


def test_reconnect_alone_after_a_gap_starts_a_new_session() -> None:
    sessions = derive(
        [join("p1", 0, user_id="u1"), join("p2", 90 * SEC, user_id="u1")],
        [leave("p1", 60 * SEC), leave("p2", 150 * SEC)],
    )
    assert [s.id for s in sessions] == [sid("p1"), sid("p2")]
    assert [spans(s) for s in sessions] == [{"p1": (0, 60 * SEC)}, {"p2": (90 * SEC, 150 * SEC)}]
    assert [(s.max_concurrent, s.closed_ms) for s in sessions] == [(1, 60 * SEC), (1, 60 * SEC)]
    assert all(p.session_id == s.id for s in sessions for p in s.peers)


def test_a_join_at_the_instant_of_a_leave_touches_and_keeps_one_session() -> None:
    sessions = derive(
        [join("a", 0), join("b", 60 * SEC), join("c", 120 * SEC)],
        [leave("a", 60 * SEC), leave("b", 120 * SEC), leave("c", 180 * SEC)],
    )
    assert len(sessions) == 1
    s = sessions[0]
    assert s.id == sid("a")
    assert (s.started_at, s.own_ended_at) == (T0, T0 + 180 * SEC)
    assert s.max_concurrent == 1  # at 60 s and 120 s the leave applies before the join
    assert s.closed_ms == 180 * SEC


def test_max_concurrent_applies_leaves_before_joins_at_one_instant() -> None:
    # a [0, 60], b [60, 120], c [60, 90]: at 60 s a has left when b and c join → 2, never 3.
    s = derive(
        [join("a", 0), join("b", 60 * SEC), join("c", 60 * SEC)],
        [leave("a", 60 * SEC), leave("b", 120 * SEC), leave("c", 90 * SEC)],
    )[0]
    assert s.max_concurrent == 2
    assert max_concurrent([(0, 60), (60, 120), (60, 90)]) == 2
    assert max_concurrent([(0, 60), (59, 120)]) == 2
    assert max_concurrent([(0, None), (10, None), (20, 30)]) == 3
    assert max_concurrent([]) == 0


def test_a_zero_length_interval_counts_one_at_its_instant() -> None:
    s = derive([join("a", 30 * SEC)], [leave("a", 30 * SEC)])[0]
    assert (s.started_at, s.own_ended_at) == (T0 + 30 * SEC, T0 + 30 * SEC)
    assert (s.max_concurrent, s.closed_ms, s.is_live) == (1, 0, False)
    assert max_concurrent([(5, 5)]) == 1
    assert max_concurrent([(0, 60), (60, 60)]) == 1  # a leaves, then b is there for an instant
    assert max_concurrent([(0, 60), (60, 60), (60, 120)]) == 2  # b and c share the instant 60
    assert max_concurrent([(5, 5), (5, 5)]) == 2


def test_a_leave_before_its_join_is_clamped_to_the_join() -> None:
    s = derive([join("a", 100 * SEC)], [leave("a", 50 * SEC)])[0]
    assert spans(s) == {"a": (100 * SEC, 100 * SEC)}
    assert (s.started_at, s.own_ended_at) == (T0 + 100 * SEC, T0 + 100 * SEC)
    assert (s.closed_ms, s.max_concurrent, s.is_live) == (0, 1, False)


def test_of_duplicate_joins_the_earliest_counts_and_ties_go_to_the_lower_event_id() -> None:
    joins = [
        join("p", 10 * SEC, eid="j-b", display_name="B"),
        join("p", 10 * SEC, eid="j-a", display_name="A", preset_name="host"),
        join("p", 20 * SEC, eid="j-0", display_name="later", meeting_title="ignored"),
    ]
    assert earliest_joins(joins)["p"].event_id == "j-a"
    assert earliest_joins(reversed(joins))["p"].event_id == "j-a"
    s = derive(joins, [leave("p", 15 * SEC)])[0]
    (peer,) = s.peers
    assert (peer.joined_at, peer.left_at) == (T0 + 10 * SEC, T0 + 15 * SEC)
    assert (peer.display_name, peer.preset_name) == ("A", "host")
    assert s.title == ""  # the join that does not count changes nothing, its title included
    assert s.closed_ms == 5 * SEC


def test_a_peer_belongs_to_the_meeting_of_its_earliest_join() -> None:
    joins = [join("p", 10 * SEC, eid="j1"), join("p", 5 * SEC, eid="j2", meeting="m-2")]
    leaves = [leave("p", 70 * SEC)]
    assert derive(joins, leaves) == []
    (s,) = derive(joins, leaves, meeting="m-2")
    assert s.id == sid("p", "m-2")
    assert (s.meeting_id, spans(s)) == ("m-2", {"p": (5 * SEC, 70 * SEC)})


def test_parent_meeting_is_named_by_the_earliest_join_that_names_one() -> None:
    joins = [
        join("a", 0, eid="j-a"),
        join("b", 20 * SEC, eid="j-b", parent_meeting_id="P2"),
        join("c", 10 * SEC, eid="j-c", parent_meeting_id="P1"),
    ]
    assert parent_meeting_of(joins) == "P1"
    assert parent_meeting_of(joins[:1]) is None


# --- meeting.ended and inferred leaves --------------------------------------------------


def test_meeting_ended_closes_peers_joined_at_or_before_it_only() -> None:
    sessions = derive(
        [
            join("A", 0),
            join("D", 0),
            join("F", 10 * SEC),
            join("B", 30 * SEC),
            join("C", 60 * SEC),  # joins at the very instant of the end: closed at it
            join("E", 100 * SEC),  # joins after the end: untouched, still connected
        ],
        [leave("D", 20 * SEC), leave("F", 90 * SEC)],
        [end(60 * SEC)],
    )
    assert [s.id for s in sessions] == [sid("A"), sid("E")]
    first, second = sessions
    assert spans(first) == {
        "A": (0, 60 * SEC),
        "D": (0, 20 * SEC),
        "F": (10 * SEC, 60 * SEC),  # its own leave at 90 s is later than the end
        "B": (30 * SEC, 60 * SEC),
        "C": (60 * SEC, 60 * SEC),
    }
    assert ended(first) == 60 * SEC
    assert first.closed_ms == (60 + 20 + 50 + 30 + 0) * SEC
    assert first.max_concurrent == 3  # A, D, F at 10 s; A, F, B at 30 s; C alone after 60 s
    assert spans(second) == {"E": (100 * SEC, None)}
    assert (second.is_live, second.open_count, second.open_join_sum_ms) == (True, 1, T0 + 100 * SEC)
    assert second.own_ended_at is None


def test_the_earliest_meeting_end_at_or_after_the_join_counts() -> None:
    first, second = derive(
        [join("a", 0), join("b", 50 * SEC)],
        [],
        [end(60 * SEC, eid="end-b"), end(40 * SEC, eid="end-a")],
    )
    assert spans(first) == {"a": (0, 40 * SEC)}
    assert spans(second) == {"b": (50 * SEC, 60 * SEC)}  # the end at 40 s precedes b's join


def test_meeting_end_with_nobody_connected_changes_nothing() -> None:
    (s,) = derive([join("a", 0)], [leave("a", 10 * SEC)], [end(20 * SEC)])
    assert spans(s) == {"a": (0, 10 * SEC)}


def test_a_real_leave_replaces_an_inferred_one_earlier_or_later() -> None:
    sessions = derive(
        [join("p", 0), join("q", 0), join("r", 0), join("s", 0)],
        [
            leave("p", 50 * SEC, inferred=True, eid="inf-p"),
            leave("p", 80 * SEC, eid="real-p"),  # later than the inferred one, still wins
            leave("q", 50 * SEC, inferred=True, eid="inf-q"),
            leave("q", 30 * SEC, eid="real-q"),
            leave("r", 50 * SEC, inferred=True, eid="inf-r"),
            leave("s", 50 * SEC, inferred=True, eid="inf-s"),
        ],
    )
    assert len(sessions) == 1
    assert spans(sessions[0]) == {
        "p": (0, 80 * SEC),
        "q": (0, 30 * SEC),
        "r": (0, 50 * SEC),
        "s": (0, 50 * SEC),
    }
    # A meeting end before the inferred leave still closes the peer earlier.
    (s,) = derive([join("s", 0)], [leave("s", 50 * SEC, inferred=True)], [end(40 * SEC)])
    assert spans(s) == {"s": (0, 40 * SEC)}


def test_of_several_leaves_the_earliest_counts() -> None:
    (s,) = derive([join("a", 0)], [leave("a", 70 * SEC, eid="l2"), leave("a", 40 * SEC, eid="l1")])
    assert spans(s) == {"a": (0, 40 * SEC)}


# --- grace -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grace_ms", "expected"),
    [(0, 2), (29_999, 2), (30_000, 1), (31_000, 1)],
)
def test_grace_joins_intervals_separated_by_at_most_the_gap(grace_ms: int, expected: int) -> None:
    sessions = derive(
        [join("a", 0), join("b", 90 * SEC)],
        [leave("a", 60 * SEC), leave("b", 120 * SEC)],
        grace_ms=grace_ms,
    )
    assert len(sessions) == expected
    if expected == 1:
        (s,) = sessions
        assert s.id == sid("a")
        assert (s.own_ended_at, s.closed_ms, s.max_concurrent) == (T0 + 120 * SEC, 90 * SEC, 1)


def test_an_open_interval_reaches_every_later_join() -> None:
    (s,) = derive([join("a", 0), join("b", 600 * SEC)], [leave("b", 660 * SEC)])
    assert s.is_live
    assert (s.open_count, s.open_join_sum_ms, s.closed_ms) == (1, T0, 60 * SEC)
    assert s.max_concurrent == 2


# --- title, type, meta ------------------------------------------------------------------

UPDATES = [
    update(10 * SEC, "u1", title="First"),
    update(50 * SEC, "u2", title="Second", session_type="livestream"),
    update(55 * SEC, "u3", meta={"only": "meta"}),  # no title: the title stays "Second"
    update(60 * SEC, "u4", meta={"k": 1}),  # exactly at the end: still counts
    update(61 * SEC, "u5", title="Too late", session_type="participant", meta={"k": 2}),
]


def test_an_ended_session_keeps_the_latest_values_at_or_before_its_end() -> None:
    (s,) = derive([join("a", 0)], [leave("a", 60 * SEC)], [], UPDATES)
    assert (s.title, s.type, s.meta) == ("Second", "livestream", {"k": 1})
    (r,) = derive([join("a", 0)], [leave("a", 60 * SEC)], [], list(reversed(UPDATES)))
    assert (r.title, r.type, r.meta) == ("Second", "livestream", {"k": 1})


def test_a_live_session_takes_any_update_and_each_session_its_own() -> None:
    first, live = derive([join("a", 0), join("b", 120 * SEC)], [leave("a", 60 * SEC)], [], UPDATES)
    assert (first.title, first.type, first.meta) == ("Second", "livestream", {"k": 1})
    assert live.is_live
    assert (live.title, live.type, live.meta) == ("Too late", "participant", {"k": 2})


def test_no_update_means_empty_title_meeting_type_and_no_meta() -> None:
    (s,) = derive([join("a", 0)], [leave("a", 1)])
    assert (s.title, s.type, s.meta) == ("", "meeting", None)


def test_a_joins_meeting_title_counts_as_an_update_at_the_join() -> None:
    (s,) = derive(
        [join("a", 0), join("b", 30 * SEC, meeting_title="From join")],
        [leave("a", 60 * SEC), leave("b", 60 * SEC)],
        [],
        [update(10 * SEC, "u1", title="First"), update(40 * SEC, "u2", session_type="livestream")],
    )
    assert (s.title, s.type) == ("From join", "livestream")


def test_updates_at_the_same_instant_are_decided_by_event_id() -> None:
    ups = [update(10 * SEC, "u-6", title="y"), update(10 * SEC, "u-5", title="x")]
    for order in (ups, ups[::-1]):
        (s,) = derive([join("a", 0)], [leave("a", 60 * SEC)], [], order)
        assert s.title == "y"


def test_updated_at_is_the_latest_receipt_of_what_decided_the_session() -> None:
    (s,) = derive(
        [join("a", 0, rcv=T0 + 1 * MIN), join("b", 0, rcv=T0 + 2 * MIN)],
        [leave("a", 60 * SEC, rcv=T0 + 5 * MIN), leave("b", 30 * SEC, rcv=T0 + 3 * MIN)],
        [],
        [
            update(10 * SEC, "u1", title="t", rcv=T0 + 4 * MIN),
            update(90 * SEC, "u2", title="after the end", rcv=T0 + 9 * MIN),  # not in force
        ],
    )
    assert s.title == "t"
    assert s.updated_at == T0 + 5 * MIN
    assert {p.peer_id: p.updated_at for p in s.peers} == {"a": T0 + 5 * MIN, "b": T0 + 3 * MIN}


# --- deterministic ids ------------------------------------------------------------------


def test_session_ids_are_uuid5_of_app_meeting_and_earliest_peer() -> None:
    joins = [join("b", 0), join("a", 0), join("c", 30 * SEC)]
    leaves = [leave("a", 60 * SEC), leave("b", 40 * SEC), leave("c", 50 * SEC)]
    results = {
        tuple(derive(list(js), list(ls)))
        for js in itertools.permutations(joins)
        for ls in itertools.permutations(leaves)
    }
    assert len(results) == 1  # the input order never matters
    (s,) = next(iter(results))
    assert s.id == make_session_id(APP, MEETING, "a")  # tie at 0 between a and b: a
    assert uuid.UUID(s.id).version == 5
    assert make_session_id(APP, MEETING, "a") == make_session_id(APP, MEETING, "a")
    assert make_session_id("other-app", MEETING, "a") != s.id
    assert make_session_id(APP, "m-2", "a") != s.id
    assert [p.session_id for p in s.peers] == [s.id] * 3


# --- placement by time ------------------------------------------------------------------

S1 = Span("s1", 1_000 * SEC, 2_000 * SEC)
S2 = Span("s2", 2_030 * SEC, None)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (939_999, None),  # 60.001 s before s1 starts
        (940_000, "s1"),  # exactly 60 s before
        (1_500_000, "s1"),
        (1_969_999, "s1"),
        (1_970_000, "s1"),  # s2's tolerance starts here too: the earlier session wins
        (2_060_000, "s1"),  # exactly 60 s after s1 ends, and inside s2's tolerance
        (2_060_001, "s2"),
        (10**9, "s2"),  # a LIVE span has no end
    ],
)
def test_place_by_time_with_tolerance_and_the_earlier_of_two(at: int, expected: str | None) -> None:
    assert PLACEMENT_TOLERANCE_MS == 60_000
    assert place_by_time([S2, S1], at) == expected
    assert place_by_time([S1, S2], at) == expected


def test_place_by_time_edge_cases() -> None:
    assert place_by_time([], 0) is None
    assert place_by_time([Span("b", 0, 10), Span("a", 0, 10)], 5) == "a"
    assert place_by_time([S1], 2_060_001) is None
    assert place_by_time([S1], 999_999, tolerance_ms=0) is None
    assert place_by_time([S1], 2_000_001, tolerance_ms=0) is None


@pytest.mark.parametrize(
    ("at", "expected"),
    [(999_999, None), (1_000_000, "s1"), (2_000_000, "s1"), (2_000_001, None), (2_030_000, "s2")],
)
def test_parent_session_has_no_tolerance(at: int, expected: str | None) -> None:
    assert parent_session_for([S1, S2], at) == expected


# --- breakout status, durations ---------------------------------------------------------


def test_effective_end() -> None:
    assert effective_end(100, []) == 100
    assert effective_end(100, [50, 200]) == 200
    assert effective_end(300, [50, 200]) == 300
    assert effective_end(100, [50, None]) is None
    assert effective_end(None, [50]) is None
    assert effective_end(None, []) is None


def test_interval_ms() -> None:
    assert interval_ms(10, 30, now=1_000) == 20
    assert interval_ms(10, None, now=70) == 60
    assert interval_ms(10, None, now=5) == 0  # never negative
    assert interval_ms(10, 10, now=99) == 0


def test_union_ms() -> None:
    assert union_ms([], now=0) == 0
    assert union_ms([(0, 10), (5, 20), (30, 40)], now=0) == 30  # [0, 20] ∪ [30, 40]
    assert union_ms([(10, 20), (0, 10)], now=0) == 20  # touching
    assert union_ms([(0, 100), (10, 20)], now=0) == 100  # contained
    assert union_ms([(0, None), (10, 20)], now=50) == 50  # open runs to now
    assert union_ms([(60, None)], now=50) == 0  # now before the join
    assert union_ms([(0, 10), (0, 10)], now=0) == 10
    assert minutes(90_000) == 1.5


# --- the consolidated view --------------------------------------------------------------


def peer_row(
    pid: str,
    joined: int,
    left: int | None,
    *,
    user: str | None = None,
    custom: str | None = None,
    name: str | None = None,
    preset: str | None = None,
    updated: int = RCV,
) -> PeerRow:
    return PeerRow(
        id=pid,
        session_id="s",
        user_id=user,
        custom_participant_id=custom,
        display_name=name,
        preset_name=preset,
        preset_view_type="GROUP_CALL",
        socket_session_id=None,
        joined_at=T0 + joined,
        left_at=None if left is None else T0 + left,
        updated_at=updated,
    )


PEOPLE = [
    peer_row("p1", 0, 60 * SEC, user="u1", name="Ann", preset="guest", updated=RCV),
    peer_row("p2", 30 * SEC, 90 * SEC, user="u1", custom="c-ann", name="Ann (phone)",
             preset="host", updated=RCV + 5),
    peer_row("p3", 10 * SEC, None, custom="c-bob", name="Bob"),
    peer_row("p4", 20 * SEC, 40 * SEC, custom="c-bob", name="Bob 2"),
    peer_row("p5", 5 * SEC, 25 * SEC, name="Anon"),
    peer_row("p6", 15 * SEC, 16 * SEC, user="u2", custom="c-bob", name="Carol"),
]  # fmt: skip
NOW = T0 + 120 * SEC


def test_person_key_prefers_user_then_custom_id_then_peer() -> None:
    assert [person_key(p) for p in PEOPLE] == [
        "u:u1", "u:u1", "c:c-bob", "c:c-bob", "p:p5", "u:u2"
    ]  # fmt: skip


def test_consolidated_rows_merge_reconnects_and_take_names_from_the_latest_join() -> None:
    rows = consolidate(
        PEOPLE, NOW, search=None, sort_by="joinedAt", descending=False, with_events=False
    )
    got = {
        r.id: (r.user_id, r.custom_participant_id, r.display_name, r.preset_name, r.joined_at,
               r.left_at, r.duration, r.updated_at)
        for r in rows
    }  # fmt: skip
    assert [r.id for r in rows] == ["p1", "p5", "p3", "p6"]
    assert got == {
        # [0, 60] ∪ [30, 90] = 90 s
        "p1": ("u1", "c-ann", "Ann (phone)", "host", to_iso(T0), to_iso(T0 + 90 * SEC), 1.5,
               to_iso(RCV + 5)),
        "p5": (None, None, "Anon", None, to_iso(T0 + 5 * SEC), to_iso(T0 + 25 * SEC), 20 / 60,
               to_iso(RCV)),
        # [10, now=120] ∪ [20, 40] = 110 s; p3 is still connected, so no left_at
        "p3": (None, "c-bob", "Bob 2", None, to_iso(T0 + 10 * SEC), None, 110 / 60, to_iso(RCV)),
        "p6": ("u2", "c-bob", "Carol", None, to_iso(T0 + 15 * SEC), to_iso(T0 + 16 * SEC), 1 / 60,
               to_iso(RCV)),
    }  # fmt: skip
    later = consolidate(
        PEOPLE, NOW + MIN, search=None, sort_by="joinedAt", descending=False, with_events=False
    )
    assert [r.duration for r in later] == [1.5, 20 / 60, 170 / 60, 1 / 60]  # only p3 grows


def test_consolidated_sort_and_search() -> None:
    by_duration = consolidate(
        PEOPLE, NOW, search=None, sort_by="duration", descending=True, with_events=False
    )
    assert [r.id for r in by_duration] == ["p3", "p1", "p5", "p6"]  # 110 s, 90 s, 20 s, 1 s
    newest = consolidate(
        PEOPLE, NOW, search=None, sort_by="joinedAt", descending=True, with_events=False
    )
    assert [r.id for r in newest] == ["p6", "p3", "p5", "p1"]
    found = consolidate(
        PEOPLE, NOW, search="BOB", sort_by="joinedAt", descending=False, with_events=False
    )
    assert [r.id for r in found] == ["p3", "p6"]  # p6 matches on its custom id


def test_consolidated_peer_events_of_all_the_persons_peers_in_time_order() -> None:
    rows = consolidate(
        PEOPLE[:2], NOW, search=None, sort_by="joinedAt", descending=False, with_events=True
    )
    (ann,) = rows
    assert not isinstance(ann.peer_events, type(None))
    events = [(e.peer_id, e.event_name, e.created_at, e.minutes_consumed) for e in ann.peer_events]  # type: ignore[union-attr]
    assert events == [
        ("p1", "PEER_CREATED", to_iso(T0), 0.0),
        ("p1", "PEER_JOINING", to_iso(T0), 0.0),
        ("p2", "PEER_CREATED", to_iso(T0 + 30 * SEC), 0.0),
        ("p2", "PEER_JOINING", to_iso(T0 + 30 * SEC), 0.0),
        ("p1", "PEER_LEAVING", to_iso(T0 + 60 * SEC), 1.0),
        ("p2", "PEER_LEAVING", to_iso(T0 + 90 * SEC), 1.0),
    ]
    assert {e.participant_id for e in ann.peer_events} == {"u1"}  # type: ignore[union-attr]
    assert ann.peer_events[0].id == peer_event_id("p1", "PEER_CREATED")  # type: ignore[index]


def test_a_persons_id_on_a_tied_first_join_is_the_lower_peer_id() -> None:
    rows = consolidate(
        [peer_row("z", 0, 10, user="u"), peer_row("y", 0, 20, user="u")],
        NOW, search=None, sort_by="joinedAt", descending=False, with_events=False,
    )  # fmt: skip
    assert [(r.id, r.duration) for r in rows] == [("y", 20 / 60_000)]


# --- figures as served: a LIVE session grows with now ------------------------------------


def _row(s: Session) -> SessionRow:
    return SessionRow(
        id=s.id,
        meeting_id=s.meeting_id,
        parent_session_id=None,
        title=s.title,
        type=s.type,
        meta=s.meta,
        status="LIVE" if s.is_live else "ENDED",
        started_at=s.started_at,
        ended_at=s.own_ended_at,
        max_concurrent=s.max_concurrent,
        open_count=s.open_count,
        closed_ms=s.closed_ms,
        open_join_sum_ms=s.open_join_sum_ms,
        updated_at=s.updated_at,
    )


def test_a_live_sessions_minutes_grow_with_now() -> None:
    # a [0, 60] closed; b from 30 s and c from 90 s still connected.
    (s,) = derive([join("a", 0), join("b", 30 * SEC), join("c", 90 * SEC)], [leave("a", 60 * SEC)])
    row = _row(s)
    at_2m = session_out(row, APP, T0 + 120 * SEC)  # 60 + 90 + 30 = 180 s
    at_3m = session_out(row, APP, T0 + 180 * SEC)  # 60 + 150 + 90 = 300 s
    assert (at_2m.minutes_consumed, at_3m.minutes_consumed) == (3.0, 5.0)
    assert (at_2m.status, at_2m.ended_at, at_2m.live_participants) == ("LIVE", None, 2)
    assert at_2m.max_concurrent_participants == 2
    assert (at_2m.started_at, at_2m.created_at) == (to_iso(T0), to_iso(T0))
    assert (at_2m.organization_id, at_2m.associated_id, at_2m.meta) == (APP, MEETING, {})
    b = next(p for p in s.peers if p.peer_id == "b")
    peer = PeerRow(b.peer_id, s.id, None, None, None, None, "GROUP_CALL", None, b.joined_at,
                   None, b.updated_at)  # fmt: skip
    assert participant_out(peer, T0 + 120 * SEC, False).duration == 1.5
    assert participant_out(peer, T0 + 180 * SEC, False).duration == 2.5


def test_an_ended_sessions_minutes_do_not_depend_on_now() -> None:
    (s,) = derive([join("a", 0), join("b", 30 * SEC)], [leave("a", 60 * SEC), leave("b", 90 * SEC)])
    row = _row(s)
    outs = [session_out(row, APP, now) for now in (T0 + 100 * SEC, T0 + 10**9)]
    assert [o.minutes_consumed for o in outs] == [2.0, 2.0]  # 60 s + 60 s
    assert [(o.status, o.ended_at, o.live_participants) for o in outs] == [
        ("ENDED", to_iso(T0 + 90 * SEC), 0)
    ] * 2
