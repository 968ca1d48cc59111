"""Heavy inputs, and a watch on `/healthz` while they are worked on: shared by
tests/e2e/test_hostile_input.py and bench/loop_stalls.py."""

from __future__ import annotations

import gzip
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from support import DATA

DUMP = DATA / "rtcstats" / "dumps" / "safari-standard-stats.jsonl"


def gzip_members(count: int) -> bytes:
    """`count` empty gzip members, then one holding `[]` (20 bytes a member)."""
    return gzip.compress(b"") * count + gzip.compress(b"[]")


@contextmanager
def healthz_watch(base_url: str, *, check: bool = True) -> Iterator[list[float]]:
    """Latencies of `/healthz`, polled back to back from a thread while the body runs; with
    `check`, every answer must be a 200."""
    latencies: list[float] = []
    failures: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    resp = client.get(f"{base_url}/healthz")
                    failure = "" if resp.status_code == 200 else resp.text
                except httpx.HTTPError as exc:  # no answer at all within the timeout
                    failure = repr(exc)
                latencies.append(time.perf_counter() - started)
                if failure:
                    failures.append(failure)
                stop.wait(0.01)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while len(latencies) < 3 and time.monotonic() < deadline:  # a warm connection first
        time.sleep(0.01)
    seen = len(latencies)
    during: list[float] = []
    try:
        yield during
    finally:
        stop.set()
        thread.join(timeout=60)
        during.extend(latencies[seen:])
    assert not check or not failures, failures[:3]


def stats_sample(start: datetime, second: int, ssrc: int) -> dict[str, Any]:
    return {
        "timestamp": (start + timedelta(seconds=second)).isoformat(), "kind": "video",
        "direction": "inbound", "ssrc": ssrc, "source": "camera", "pc_id": "pc-1",
        "packets_received": second * 100, "packets_lost": second, "jitter": 0.004,
        "bytes_received": second * 123_456, "round_trip_time": 0.05, "frame_width": 1280,
        "frames_decoded": second * 30, "frames_per_second": 29.97, "frame_height": 720,
        "quality_limitation_reason": "none",
    }  # fmt: skip


def big_batch() -> list[dict[str, Any]]:
    """5,000 events, 8 MiB of JSON: a telemetry collector's batch of `peer.stats` (4 streams a
    second), whose 20,000 samples take validation most of a second."""
    start = datetime.now(UTC) - timedelta(hours=2)
    events: list[dict[str, Any]] = [
        {"id": "j", "type": "peer.joined", "meeting_id": "m", "peer_id": "p",
         "occurred_at": start.isoformat()},
    ]  # fmt: skip
    for n in range(1, 5000):
        at = (start + timedelta(seconds=n)).isoformat()
        samples = [stats_sample(start, n, ssrc) for ssrc in range(4)]
        events.append({"id": f"s{n}", "type": "peer.stats", "meeting_id": "m", "peer_id": "p",
                       "occurred_at": at, "samples": samples})  # fmt: skip
    return events


def big_dump(megabytes: int) -> bytes:
    """A real Safari dump whose `getstats` lines repeat, each repeat 1 s later, to size."""
    lines = [json.loads(line) for line in DUMP.read_text().splitlines() if line.strip()]
    stats = [line for line in lines if line[0] == "getstats"]
    out = [json.dumps(line) for line in lines]
    size, repeat = sum(map(len, out)), 1
    while size < megabytes << 20:
        for method, pc, value, ts in stats:
            out.append(json.dumps([method, pc, value, ts + repeat * 1000]))
            size += len(out[-1]) + 1
        repeat += 1
    return ("\n".join(out) + "\n").encode()


def long_transcript(words: int) -> list[dict[str, Any]]:
    """One meeting with two speakers and `words` words of varied, sentence-shaped speech."""
    rng = random.Random(8)
    vocabulary = [f"{rng.choice('bcdfgklmnprstvz')}{rng.choice('aeiou')}{n}" for n in range(3000)]
    start = datetime.now(UTC) - timedelta(hours=3)
    joins = [
        {"id": f"j{p}", "type": "peer.joined", "meeting_id": "m", "peer_id": p,
         "display_name": p.title(), "occurred_at": start.isoformat()}
        for p in ("ada", "bob")
    ]  # fmt: skip
    segments: list[dict[str, Any]] = []
    said = 0
    while said < words:
        sentences = [
            " ".join(rng.choices(vocabulary, k=rng.randint(8, 20))).capitalize() + "."
            for _ in range(20)
        ]
        text = " ".join(sentences)
        said += text.count(" ") + 1
        at = (start + timedelta(seconds=len(segments))).isoformat()
        segments.append({"id": f"s{len(segments)}", "type": "transcript.segment",
                         "meeting_id": "m", "peer_id": ("ada", "bob")[len(segments) % 2],
                         "occurred_at": at, "text": text})  # fmt: skip
    return joins + segments
