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
import os
import random
import statistics
import time
from typing import Any

from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.quality.report import build_quality

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


if __name__ == "__main__":
    main()
