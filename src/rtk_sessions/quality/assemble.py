"""Assembling a peer report from stored telemetry: pure, apart from the IP lookup it is given.

The report is `{metadata, quality, connections}`; the participant part of the answer comes
from the peer's row.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import msgspec

from rtk_sessions.kit.timeutil import stored_time_ms
from rtk_sessions.quality.lookup import IpLookup
from rtk_sessions.quality.metadata import build_metadata
from rtk_sessions.quality.repo import TelemetryEvent
from rtk_sessions.quality.report import build_quality
from rtk_sessions.sessions.repo import PeerRow
from rtk_sessions.sessions.schemas import participant_out


class _StatsBody(msgspec.Struct):
    samples: list[dict[str, Any]]


_STATS = msgspec.json.Decoder(_StatsBody)  # typed: skips the event's other fields


def _samples(stats: list[TelemetryEvent]) -> Iterator[dict[str, Any]]:
    """Every sample with `timestamp_ms`; the streams of one poll share a timestamp string, so
    each distinct one is parsed once."""
    parsed: dict[int | str, int | None] = {}
    for event in stats:
        for sample in _STATS.decode(event.body).samples:
            stamp = sample["timestamp"]
            if stamp not in parsed:
                parsed[stamp] = stored_time_ms(stamp)
            sample["timestamp_ms"] = parsed[stamp]
            yield sample


def build_report(
    telemetry: list[TelemetryEvent], ip_lookup: IpLookup, max_points: int
) -> dict[str, Any]:
    """The whole `peer_report` object from the peer's telemetry (pure but for the IP lookup).

    The cyclic garbage collector is paused meanwhile: an hour of samples allocates hundreds of
    thousands of acyclic objects, and collecting while they are made costs a third of the time.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _report(telemetry, ip_lookup, max_points)
    finally:
        if paused:
            gc.enable()


def _report(
    telemetry: list[TelemetryEvent], ip_lookup: IpLookup, max_points: int
) -> dict[str, Any]:
    described = [
        (e.occurred_at, e.type, msgspec.json.decode(e.body))
        for e in telemetry
        if e.type != "peer.stats"
    ]
    stats = [e for e in telemetry if e.type == "peer.stats"]
    return {
        "metadata": build_metadata(described, ip_lookup=ip_lookup),
        "quality": build_quality(_samples(stats), max_points=max_points),
        "connections": _connections(described),
    }


def _connections(described: list[tuple[int, str, dict[str, Any]]]) -> dict[str, Any]:
    """Per peer connection, the figures an imported rtcstats dump measured (duration, totals,
    ICE reconnects, candidate pair): an extra field the SDK ignores, for support staff and for
    comparing with other tools (docs/rtcstats.md). The latest import wins per connection."""
    found: dict[str, Any] = {}
    for _, _, body in described:
        found.update(body.get("rtcstats_connections") or {})
    return found


def participant(peer: PeerRow, now: int, with_events: bool) -> dict[str, Any]:
    """The participant part of the answer: the participants endpoint's row, with the session
    id, and the preset named `role` as this endpoint's model spells it (docs/api-decisions.md)."""
    out: dict[str, Any] = msgspec.to_builtins(participant_out(peer, now, with_events))
    out["role"] = out.pop("preset_name")
    return {"session_id": peer.session_id, **out}
