"""Assembling a report from stored telemetry: timestamps in either stored form, the dump
figures extra field, and metadata next to quality."""

from __future__ import annotations

from typing import Any

import msgspec

from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.quality.assemble import build_report
from rtk_sessions.quality.lookup import CountryLookup
from rtk_sessions.quality.repo import TelemetryEvent

T0 = 1_780_000_000_000


def stats(i: int, stamp: Any) -> TelemetryEvent:
    sample = {"timestamp": stamp, "kind": "audio", "direction": "outbound", "ssrc": 7,
              "packets_sent": 50 * i, "packets_lost": i, "bytes_sent": 5000 * i}  # fmt: skip
    body = {"id": f"s{i}", "type": "peer.stats", "peer_id": "p", "samples": [sample]}
    return TelemetryEvent(f"s{i}", "peer.stats", T0 + 1000 * i, msgspec.json.encode(body).decode())


def metadata(eid: str, at: int, **body: Any) -> TelemetryEvent:
    event = {"id": eid, "type": "peer.metadata", "peer_id": "p", **body}
    return TelemetryEvent(eid, "peer.metadata", at, msgspec.json.encode(event).decode())


def test_epoch_and_rfc3339_timestamps_give_the_same_report() -> None:
    as_ms = [stats(i, T0 + 1000 * i) for i in range(5)]
    as_text = [stats(i, to_iso(T0 + 1000 * i)) for i in range(5)]
    a = build_report(as_ms, CountryLookup(), 720)
    b = build_report(as_text, CountryLookup(), 720)
    assert a["quality"] == b["quality"]
    entries = a["quality"]["audio_producer"]
    assert [e["timestamp"] for e in entries] == [to_iso(T0 + 1000 * i) for i in range(5)]
    # 1 lost of 51 per interval -> 1.96 %
    assert entries[1]["packet_loss_pct"] == 100 / 51


def test_dump_figures_are_merged_per_connection_latest_last() -> None:
    events = [
        metadata("f1", T0, rtcstats_connections={"PC_0": {"ice_reconnects": 1}, "PC_1": {"x": 1}}),
        metadata("f2", T0 + 5, rtcstats_connections={"PC_0": {"ice_reconnects": 2}}),
        metadata(
            "ua",
            T0 + 9,
            user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        ),
    ]
    report = build_report(events, CountryLookup(), 720)
    assert report["connections"] == {"PC_0": {"ice_reconnects": 2}, "PC_1": {"x": 1}}
    assert report["metadata"]["browser_metadata"]["browser"] == "Firefox"
    assert set(report["quality"]) >= {"audio_producer", "video_consumer_cumulative"}
