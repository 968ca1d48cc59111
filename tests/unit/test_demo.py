"""The demo data generator: deterministic, valid, and shaped like real traffic."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from typing import Any

import msgspec
import pytest

from rtk_sessions.demo.events import DAY, HISTORY_DAYS, generate_demo_events, iter_batches
from rtk_sessions.ingest.schemas import EVENT_TYPES
from rtk_sessions.ingest.validation import validate_events
from rtk_sessions.kit.timeutil import parse_rfc3339_ms
from rtk_sessions.quality.assemble import build_report
from rtk_sessions.quality.lookup import CountryLookup
from rtk_sessions.quality.repo import TELEMETRY, TelemetryEvent
from rtk_sessions.sessions.accounting import (
    Join,
    Leave,
    MeetingEnd,
    MeetingEvents,
    Session,
    Span,
    derive_meeting,
    parent_session_for,
)

NOW = 1_780_000_000_000  # 2026-05-28T20:26:40Z, a Thursday evening
SESSIONS = 300
ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

Event = dict[str, Any]


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return generate_demo_events(NOW, seed=7, sessions=SESSIONS)


@pytest.fixture(scope="module")
def derived(events: list[Event]) -> dict[str, list[Session]]:
    return _derive(events)


def _ms(value: str) -> int:
    ms = parse_rfc3339_ms(value)
    assert ms is not None, value
    return ms


def _derive(events: list[Event]) -> dict[str, list[Session]]:
    """Sessions per meeting, as the accounting module derives them."""
    joins: dict[str, list[Join]] = defaultdict(list)
    leaves: dict[str, list[Leave]] = defaultdict(list)
    ends: dict[str, list[MeetingEnd]] = defaultdict(list)
    for e in events:
        at = _ms(e["occurred_at"])
        if e["type"] == "peer.joined":
            joins[e["meeting_id"]].append(
                Join(
                    e["id"],
                    e["peer_id"],
                    e["meeting_id"],
                    at,
                    0,
                    user_id=e.get("user_id"),
                    parent_meeting_id=e.get("parent_meeting_id"),
                )
            )
        elif e["type"] == "peer.left":
            leaves[e["peer_id"]].append(Leave(e["id"], e["peer_id"], at, 0))
        elif e["type"] == "meeting.ended":
            ends[e["meeting_id"]].append(MeetingEnd(e["id"], at, 0))
    out = {}
    for meeting_id, meeting_joins in joins.items():
        peers = {j.peer_id for j in meeting_joins}
        meeting_leaves = [lv for p in peers for lv in leaves.get(p, [])]
        out[meeting_id] = derive_meeting(
            MeetingEvents(
                "app", meeting_id, meeting_joins, meeting_leaves, ends.get(meeting_id, [])
            )
        )
    return out


def _breakout_parents(events: list[Event]) -> dict[str, str]:
    return {
        e["meeting_id"]: e["parent_meeting_id"]
        for e in events
        if e["type"] == "peer.joined" and e.get("parent_meeting_id")
    }


def test_deterministic_for_a_seed() -> None:
    first = generate_demo_events(NOW, seed=3, sessions=40)
    assert first == generate_demo_events(NOW, seed=3, sessions=40)
    assert first != generate_demo_events(NOW, seed=4, sessions=40)
    assert json.loads(json.dumps(first)) == first


def test_common_fields(events: list[Event]) -> None:
    for e in events:
        assert ID_RE.match(e["id"]), e
        assert e["type"] in EVENT_TYPES, e
        assert isinstance(e["occurred_at"], str) and ISO_MS_Z.match(e["occurred_at"]), e
        assert ID_RE.match(e["meeting_id"]), e
        if "peer_id" in e:
            assert ID_RE.match(e["peer_id"]) and e["peer_id"].strip("."), e


def test_ids_unique_and_sorted(events: list[Event]) -> None:
    assert len({e["id"] for e in events}) == len(events)
    joined = [e["peer_id"] for e in events if e["type"] == "peer.joined"]
    assert len(set(joined)) == len(joined)
    times = [_ms(e["occurred_at"]) for e in events]
    assert times == sorted(times)


def test_size(events: list[Event]) -> None:
    assert 40_000 <= len(events) <= 80_000
    counts = Counter(e["type"] for e in events)
    assert set(counts) == set(EVENT_TYPES)
    assert counts["peer.stats"] == max(counts.values())


def test_nothing_after_now(events: list[Event]) -> None:
    first = NOW - (HISTORY_DAYS + 2) * DAY
    for e in events:
        assert first <= _ms(e["occurred_at"]) <= NOW, e
        for key in ("started_at", "ended_at"):
            if key in e:
                assert _ms(e[key]) <= NOW
    for e in events:
        if e["type"] == "peer.stats":
            assert all(_ms(s["timestamp"]) <= NOW for s in e["samples"])


def test_sessions_as_derived(events: list[Event], derived: dict[str, list[Session]]) -> None:
    children = _breakout_parents(events)
    top = [s for m, sessions in derived.items() if m not in children for s in sessions]
    assert len(top) == SESSIONS  # consecutive sessions of a meeting never merge
    live = [s for s in top if s.is_live]
    assert 3 <= len(live) <= 5
    for s in live:
        assert s.started_at >= NOW - 3_600_000
        assert any(p.left_at is None for p in s.peers)
    assert all(2 <= len(s.peers) <= 40 for s in top)
    sizes = sorted(len(s.peers) for s in top)
    assert sizes[len(sizes) // 2] <= 12  # skewed toward small
    for s in top:
        if not s.is_live:
            start = s.started_at % DAY
            assert 7 * 3_600_000 <= start <= 18 * 3_600_000  # business hours, UTC
            assert (s.started_at // DAY + 3) % 7 < 5  # a weekday


def test_breakout_rooms(events: list[Event], derived: dict[str, list[Session]]) -> None:
    children = _breakout_parents(events)
    rooms_per_parent: Counter[str] = Counter()
    for child, parent in children.items():
        spans = [Span(s.id, s.started_at, s.own_ended_at) for s in derived[parent]]
        (session,) = derived[child]  # one session per breakout room
        parent_session = parent_session_for(spans, session.started_at)
        assert parent_session is not None
        rooms_per_parent[parent_session] += 1
    assert 3 <= len(rooms_per_parent) <= 5
    assert all(2 <= n <= 3 for n in rooms_per_parent.values())


def test_reconnects_and_host_ends(events: list[Event], derived: dict[str, list[Session]]) -> None:
    reconnecting = 0
    for sessions in derived.values():
        for s in sessions:
            per_user = Counter(p.user_id for p in s.peers)
            reconnecting += sum(1 for n in per_user.values() if n > 1)
    assert reconnecting >= 100
    assert Counter(e["type"] for e in events)["meeting.ended"] >= 20
    leaves = [e for e in events if e["type"] == "peer.left"]
    assert any(e.get("reason") == "NETWORK_DISCONNECTED" for e in leaves)


def test_people_and_content(events: list[Event]) -> None:
    joins = [e for e in events if e["type"] == "peer.joined"]
    names = {e["display_name"] for e in joins}
    assert {"José Álvarez", "Zoë Müller", "李雷"} <= names
    by_user: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for e in joins:
        by_user[e["user_id"]].add((e["display_name"], e["custom_participant_id"]))
    assert all(len(v) == 1 for v in by_user.values())  # stable per person
    assert {e["preset_view_type"] for e in joins} >= {"GROUP_CALL", "WEBINAR", "LIVESTREAM"}
    updates = [e for e in events if e["type"] == "meeting.updated"]
    assert {e.get("session_type") for e in updates} >= {"meeting", "livestream"}
    assert len({e["meeting_id"] for e in updates}) >= 35
    chat = Counter(e["message_id"] for e in events if e["type"] == "chat.message")
    assert any(n > 1 for n in chat.values())  # edits and pins
    payloads = [e["payload"] for e in events if e["type"] == "chat.message"]
    assert any("\n" in p for p in payloads) and any('"' in p for p in payloads)
    segments = [e for e in events if e["type"] == "transcript.segment"]
    assert all(_ms(s["started_at"]) <= _ms(s["ended_at"]) for s in segments)
    ips = {e["ip"] for e in events if e["type"] == "peer.metadata"}
    assert all(ip.startswith(("203.0.113.", "198.51.100.")) for ip in ips)


def test_stats_are_cumulative(events: list[Event]) -> None:
    streams: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["type"] == "peer.stats":
            for s in e["samples"]:
                streams[(s["pc_id"], s["direction"], s["ssrc"])].append(s)
    for samples in streams.values():
        stamps = [_ms(s["timestamp"]) for s in samples]
        steps = {b - a for a, b in itertools.pairwise(stamps)}
        assert steps <= {10_000} or steps == {60_000}  # recent sessions poll every 10 s
        for key in ("packets_sent", "packets_received", "bytes_sent", "frames_decoded"):
            values = [s[key] for s in samples if key in s]
            assert values == sorted(values)


def test_validation_accepts_everything(events: list[Event]) -> None:
    for batch in iter_batches(events, size=5000):
        valid, errors = validate_events(batch, NOW)
        assert errors == []
        assert len(valid) == len(batch)


def test_iter_batches() -> None:
    items = [{"n": n} for n in range(5)]
    assert [len(b) for b in iter_batches(items, size=2)] == [2, 2, 1]
    assert [x for b in iter_batches(items) for x in b] == items
    with pytest.raises(ValueError):
        list(iter_batches(items, size=0))


def _telemetry_peers(events: list[Event]) -> set[str]:
    """Peers with device metadata and media statistics."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e["type"] in TELEMETRY:
            kinds[e["peer_id"]].add(e["type"])
    return {p for p, k in kinds.items() if {"peer.metadata", "peer.stats"} <= k}


def test_a_third_of_all_peers_carry_telemetry(events: list[Event]) -> None:
    peers = {e["peer_id"] for e in events if e["type"] == "peer.joined"}
    assert len(_telemetry_peers(events) & peers) >= len(peers) / 3


def test_every_peer_of_the_ten_most_recent_sessions_carries_telemetry(
    events: list[Event], derived: dict[str, list[Session]]
) -> None:
    sessions = sorted((s for ss in derived.values() for s in ss), key=lambda s: -s.started_at)
    recent = sessions[:10]
    assert all(s in recent for s in sessions if s.is_live)  # the LIVE ones are among them
    peers = {p.peer_id for s in recent for p in s.peers}
    assert len(peers) >= 20
    assert peers <= _telemetry_peers(events)
    stats = [e for e in events if e["type"] == "peer.stats" and e["peer_id"] in peers]
    steps = {b - a for a, b in itertools.pairwise(_ms(e["occurred_at"]) for e in stats)}
    assert min(steps) <= 10_000


def _report(events: list[Event], peer_id: str) -> dict[str, Any]:
    """The peer report's quality object, built by the real report code from what ingestion
    accepts of the peer's telemetry."""
    mine = [e for e in events if e.get("peer_id") == peer_id and e["type"] in TELEMETRY]
    valid, errors = validate_events(mine, NOW)
    assert errors == []
    stored = [
        TelemetryEvent(v.id, v.type, v.occurred_at, msgspec.json.encode(v.raw).decode())
        for v in valid
    ]
    return build_report(stored, CountryLookup(), 720)


def test_a_demo_peers_report_has_quality_series(events: list[Event]) -> None:
    live = next(e for e in reversed(events) if e["type"] == "peer.stats")["peer_id"]
    report = _report(events, live)
    assert report["metadata"]["browser_metadata"]["browser"]
    quality = report["quality"]
    for name in ("audio_producer", "audio_consumer"):
        series = quality[name]
        assert len(series) >= 10
        assert all(entry["mos_quality"] is not None for entry in series[1:])
        assert quality[f"{name}_cumulative"]["quality_mos"]


def _bad_stretch_ms(stats: list[Event]) -> int:
    """The longest run of polls whose round trip is over 300 ms (a one-poll spike is 0)."""
    longest, start = 0, None
    for e in stats:
        at = _ms(e["occurred_at"])
        if min(s["round_trip_time"] for s in e["samples"]) > 0.3:
            start = at if start is None else start
            longest = max(longest, at - start)
        else:
            start = None
    return longest


def test_some_peers_have_a_bad_patch_their_report_shows(events: list[Event]) -> None:
    stats: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e["type"] == "peer.stats":
            stats[e["peer_id"]].append(e)
    bad = [p for p, polls in stats.items() if _bad_stretch_ms(polls) >= 110_000]
    assert len(bad) >= len(stats) / 20
    receiving = [p for p in bad if any(s["direction"] == "inbound" for s in stats[p][0]["samples"])]
    series = _report(events, receiving[0])["quality"]["audio_consumer"]
    mos = [e["mos_quality"] for e in series if e["mos_quality"] is not None]
    assert min(mos) < 3.8 and max(mos) > 4.2
    assert max(e["packet_loss_pct"] or 0 for e in series) > 5
