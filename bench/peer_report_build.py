"""Benchmark: building a peer report's `quality` object from one hour of 1 s samples.

Six streams (the peer's audio and video producers, and audio and video consumers of two
remote peers), 3,600 samples each: 21,600 samples shaped as validated `peer.stats` samples
with `timestamp_ms` (deterministic, seed 7; realistic Opus and 720p figures with occasional
loss bursts and bandwidth-limited stretches). Prints the median of 7 runs of `build_quality`
(default list cap of 720 points); the target is ≤ 250 ms on the 2-core machine.

    .venv/bin/python bench/peer_report_build.py [--seconds 3600] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from rtk_sessions.auth.service import resolve_app
from rtk_sessions.cli.operations import ingest_events
from rtk_sessions.config import Settings
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.migrate import upgrade_async
from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.quality.assemble import build_report
from rtk_sessions.quality.repo import TelemetryEvent
from rtk_sessions.quality.report import build_quality
from rtk_sessions.quality.service import current_report, ip_lookup
from rtk_sessions.upkeep.jobs import build_state

T0_MS = 1_780_000_000_000


def _stream(kind: str, direction: str, ssrc: int, remote: str | None) -> dict[str, Any]:
    side = "sent" if direction == "outbound" else "received"
    ids = {"mid": str(ssrc % 7), "producer_id": f"prod-{ssrc}"}
    if remote:
        ids |= {"consumer_id": f"cons-{ssrc}", "remote_peer_id": remote}
    return {"kind": kind, "direction": direction, "ssrc": ssrc, "side": side, "ids": ids}


STREAMS = [
    _stream("audio", "outbound", 1001, None),
    _stream("video", "outbound", 1002, None),
    _stream("audio", "inbound", 2001, "peer-a"),
    _stream("video", "inbound", 2002, "peer-a"),
    _stream("audio", "inbound", 3001, "peer-b"),
    _stream("video", "inbound", 3002, "peer-b"),
]


def samples(seconds: int, seed: int = 7) -> list[dict[str, Any]]:
    """One sample per stream per second, counters cumulative as getStats reports them."""
    rng = random.Random(seed)
    counters: list[dict[str, float]] = [{} for _ in STREAMS]
    out: list[dict[str, Any]] = []
    for second in range(seconds):
        at = T0_MS + second * 1000
        burst = rng.random() < 0.03
        for st, c in zip(STREAMS, counters, strict=True):
            out.append(_sample(rng, st, c, at, burst))
    return out


def _bump(c: dict[str, float], **deltas: float) -> None:
    for name, value in deltas.items():
        c[name] = c.get(name, 0) + value


def _sample(
    rng: random.Random, st: dict[str, Any], c: dict[str, float], at: int, burst: bool
) -> dict[str, Any]:
    video, out = st["kind"] == "video", st["direction"] == "outbound"
    loss = rng.uniform(0.03, 0.2) if burst else rng.uniform(0, 0.004)
    limited = video and (burst or rng.random() < 0.02)
    packets = rng.randint(90, 140) if video else 50 + rng.randint(-2, 2)
    lost = int(packets * loss)
    size = 1050 if video else 100  # bytes per packet: ~1 Mbps video, ~40 kbps Opus
    _bump(c, **{f"packets_{st['side']}": packets - lost, f"bytes_{st['side']}": packets * size})
    _bump(c, packets_lost=lost)
    base = {
        "timestamp": to_iso(at),
        "timestamp_ms": at,
        "kind": st["kind"],
        "direction": st["direction"],
        "source": "camera" if video else "microphone",
        "ssrc": st["ssrc"],
        "pc_id": "pc-1",
        **st["ids"],
        "jitter": round(rng.uniform(0.002, 0.01) + loss / 5, 4),
        "round_trip_time": round(rng.uniform(0.04, 0.09) * (3 if burst else 1), 4),
    }
    if video:
        base |= _video(rng, c, out, limited, lost)
    elif not out:  # 48 kHz audio played out, each sample waiting about 40 ms
        _bump(c, jitter_buffer_emitted_count=48_000, jitter_buffer_delay=48_000 * (0.04 + loss))
        _bump(c, concealment_events=lost // 3)
    return {**base, **c}


def _video(
    rng: random.Random, c: dict[str, float], out: bool, limited: bool, lost: int
) -> dict[str, Any]:
    fps = rng.uniform(10, 18) if limited else rng.uniform(25, 30)
    coded = "encoded" if out else "decoded"
    frames = int(fps)
    _bump(c, **{f"frames_{coded}": frames, f"key_frames_{coded}": int(rng.random() < 0.05)})
    _bump(c, nack_count=lost, pli_count=int(lost > 5), fir_count=0)
    extra: dict[str, Any] = {
        "frames_per_second": round(fps, 1),
        "frame_width": 640 if limited else 1280,
        "frame_height": 360 if limited else 720,
    }
    if out:
        reason = "bandwidth" if limited else "none"
        _bump(c, quality_limitation_resolution_changes=int(limited))
        extra["quality_limitation_reason"] = reason
        extra["quality_limitation_durations"] = {"bandwidth": 0.0, "cpu": 0.0, "none": 0.0}
    else:
        _bump(c, frames_dropped=lost // 8, jitter_buffer_emitted_count=frames)
        _bump(c, jitter_buffer_delay=frames * (0.05 + lost / 1000))
    return extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    data = samples(args.seconds)
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        quality = build_quality(data)
        timings.append((time.perf_counter() - started) * 1000)
    points = sum(len(v) for k, v in quality.items() if isinstance(v, list))
    print(f"nproc={len(os.sched_getaffinity(0))} samples={len(data)} entries={points}")
    print("runs (ms):", " ".join(f"{t:.0f}" for t in timings))
    print(f"median: {statistics.median(timings):.1f} ms (target <= 250 ms)")
    stored, lookup = stored_events(data), ip_lookup("")
    whole = [_timed(lambda: build_report(stored, lookup, 720)) for _ in range(args.runs)]
    print(f"whole report from {len(stored)} stored peer.stats events (decode, timestamps, "
          f"metadata, quality): median {statistics.median(whole):.1f} ms; runs "
          + " ".join(f"{t:.0f}" for t in whole))  # fmt: skip

    first, reads = asyncio.run(read_path(data))
    print(f"GET path (service, SQLite): first read after ingest builds and stores it in "
          f"{first:.0f} ms; later reads median {statistics.median(reads):.1f} ms "
          f"(answered from the stored report)")  # fmt: skip


async def read_path(data: list[dict[str, Any]]) -> tuple[float, list[float]]:
    """Ingest the hour for a joined peer into a fresh SQLite database, then read its report:
    once (builds and stores) and 21 more times (served from the stored report)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        await upgrade_async(settings.effective_database_url)
        state = build_state(settings)
        join = {"id": "j", "type": "peer.joined", "meeting_id": "m", "peer_id": "p",
                "occurred_at": T0_MS - 1000}  # fmt: skip
        polls = [json.loads(e.body) | {"id": e.id, "meeting_id": "m", "peer_id": "p",
                 "occurred_at": e.occurred_at} for e in stored_events(data)]  # fmt: skip
        await ingest_events(state.db, settings, "bench", "bench", [join, *polls], 2000)
        async with state.db.read() as conn:
            app = AppRef(await resolve_app(conn, "bench", "bench"), "bench")
        started = time.perf_counter()
        await current_report(state, app, "p")
        first = (time.perf_counter() - started) * 1000
        reads = []
        for _ in range(21):
            started = time.perf_counter()
            await current_report(state, app, "p")
            reads.append((time.perf_counter() - started) * 1000)
        await state.db.dispose()
    return first, reads


def stored_events(data: list[dict[str, Any]]) -> list[TelemetryEvent]:
    """The samples as the database holds them: one `peer.stats` event per poll, timestamps as
    RFC 3339 strings, bodies as JSON text."""
    polls: dict[str, list[dict[str, Any]]] = {}
    for sample in data:
        polls.setdefault(sample["timestamp"], []).append(
            {k: v for k, v in sample.items() if k != "timestamp_ms"}
        )
    return [
        TelemetryEvent(f"st{i}", "peer.stats", T0_MS + i * 1000,
                       msgspec.json.encode({"type": "peer.stats", "samples": s}).decode())
        for i, (_, s) in enumerate(sorted(polls.items()))
    ]  # fmt: skip


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    main()
