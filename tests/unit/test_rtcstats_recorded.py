"""The dumps the live collector kept during the browser test (tests/e2e/test_browser_rtcstats.py,
recorded with RTK_RECORD_RTCSTATS_FIXTURES=1), read again through the dump parser: a real
Chromium call traced by the Jitsi client (with stats) and by the legacy client (without: its
callback getStats is gone from Chromium)."""

from __future__ import annotations

import json
import time
from typing import Any

from rtk_sessions.ingest.rtcstats import parse_dump
from rtk_sessions.ingest.validation import validate_events
from support import DATA

RECORDED = DATA / "rtcstats" / "recorded"
PEER, MEETING = "peer-1", "meeting-1"


def _read(name: str) -> Any:
    dump = parse_dump((RECORDED / name).read_bytes(), peer_id=PEER, meeting_id=MEETING)
    assert (dump.skipped_lines, dump.skipped) == (0, ())
    valid, errors = validate_events(dump.events, int(time.time() * 1000))
    assert errors == [] and len(valid) == len(dump.events) > 0
    return dump


def _names(dump: Any) -> set[tuple[str, str]]:
    return {
        (e["metadata"].get("pc_id"), e["name"])
        for e in dump.events
        if e["type"] == "peer.event" and isinstance(e.get("metadata"), dict)
    }


def _samples(dump: Any) -> list[dict[str, Any]]:
    return [s for e in dump.events if e["type"] == "peer.stats" for s in e["samples"]]


def test_the_jitsi_recording_has_the_call_with_its_packets() -> None:
    dump = _read("chromium-jitsi.jsonl")
    agents = [e["user_agent"] for e in dump.events if "user_agent" in e]
    assert agents and "Chrome/" in agents[0]
    for pc in ("PC_0", "PC_1"):
        assert {(pc, "ice_connected"), (pc, "connection_connected")} <= _names(dump)
    sender, receiver = dump.figures["PC_0"], dump.figures["PC_1"]
    assert min(sender.stats_reports, receiver.stats_reports) >= 18  # one a second for ~20 s
    assert sender.total_packets_sent is not None and receiver.total_packets_received is not None
    # One page, two connections over loopback: what PC_0 sent, PC_1 received (the last
    # poll may catch a packet in flight), and nothing was lost.
    assert sender.total_packets_sent > 300 and receiver.total_packets_received > 300
    assert abs(sender.total_packets_sent - receiver.total_packets_received) <= 10
    assert sender.total_sent_packets_lost == receiver.total_received_packets_lost == 0
    assert sender.session_duration_ms > 10_000  # the call lasted ~20 s
    assert sender.local_candidate_type == "host" and sender.local_protocol == "udp"
    samples = _samples(dump)
    kinds = {(s["kind"], s["direction"]) for s in samples}
    assert kinds == {(k, d) for k in ("audio", "video") for d in ("inbound", "outbound")}
    video_out = [s for s in samples if (s["kind"], s["direction"]) == ("video", "outbound")]
    assert all(0 < s["frames_per_second"] <= 61 for s in video_out if "frames_per_second" in s)
    assert max(s["packets_sent"] for s in video_out) > 100


def test_the_legacy_recording_has_the_trace_and_no_stats() -> None:
    raw = (RECORDED / "chromium-legacy.jsonl").read_bytes()
    lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
    assert not any(isinstance(line, list) and line[0] == "getstats" for line in lines)
    dump = _read("chromium-legacy.jsonl")
    assert _samples(dump) == []
    for pc in ("PC_0", "PC_1"):
        assert {(pc, "ice_connected"), (pc, "connection_connected")} <= _names(dump)
        figures = dump.figures[pc]
        assert figures.stats_reports == 0  # nothing measured: no packet figures, not zeros
        assert figures.total_packets_sent is figures.total_packets_received is None
