"""Benchmark: how long heavy requests take, and how long `/healthz` waits meanwhile.

Starts a real `rtk-sessions serve` on a fresh SQLite data dir and sends, one at a time, the
heavy inputs of issue 8 while a thread polls `/healthz` back to back: bodies of many empty gzip
members, a full batch of `peer.stats`, rtcstats dumps of growing size, and the summary of a
long transcript (the time until it can be downloaded). Prints a Markdown table.

    .venv/bin/python bench/loop_stalls.py [--dump-mb 5 20 100] [--words 150000 1000000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from heavy_inputs import (  # noqa: E402
    big_batch,
    big_dump,
    gzip_members,
    healthz_watch,
    long_transcript,
)
from rtk_sessions.kit.migrate import upgrade  # noqa: E402
from support import running_server  # noqa: E402

ACCOUNT = "acct-bench"


def measure(base: str, send: Callable[[], httpx.Response]) -> tuple[float, float, int, int]:
    """(seconds the request took, worst /healthz ms, checks, HTTP status)."""
    with healthz_watch(base, check=False) as during:
        started = time.perf_counter()
        resp = send()
        took = time.perf_counter() - started
    return took, max(during, default=0) * 1000, len(during), resp.status_code


def summary_ready(base: str, auth: dict[str, str], app: str) -> httpx.Response:
    """POST the summary, then poll until it can be fetched: the job's whole run."""
    url = f"{base}/client/v4/accounts/{ACCOUNT}/realtime/kit/{app}/sessions"
    [session] = httpx.get(url, headers=auth, timeout=60).json()["data"]["sessions"]
    summary = f"{url}/{session['id']}/summary"
    httpx.post(summary, headers=auth, timeout=600).raise_for_status()
    while (got := httpx.get(summary, headers=auth, timeout=60)).status_code == 404:
        time.sleep(0.2)
    return got


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump-mb", type=int, nargs="*", default=[5, 20, 100])
    parser.add_argument("--words", type=int, nargs="*", default=[150_000, 1_000_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch)
        url = f"sqlite+aiosqlite:///{data / 'rtk.db'}"
        upgrade(url)
        with running_server(data, url, RTK_SWEEP_INTERVAL="3600") as srv:
            run(srv, args.dump_mb, args.words)


def run(srv: Any, dump_mb: list[int], words: list[int]) -> None:
    base: str = srv.base_url
    token = srv.token(ACCOUNT, "ingest", "read", "admin")
    auth = {"Authorization": f"Bearer {token}"}

    def post(path: str, body: bytes, **headers: str) -> Callable[[], httpx.Response]:
        app = f"app-{uuid.uuid4().hex[:8]}"
        target = f"{base}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/{path}"
        return lambda: httpx.post(target, content=body, headers={**auth, **headers}, timeout=900)

    small = []
    for n in range(50):
        event = {"id": f"e{n}", "type": "meeting.updated", "meeting_id": "m",
                 "occurred_at": "2026-01-01T00:00:00Z"}  # fmt: skip
        started = time.perf_counter()
        post("events", json.dumps([event]).encode())().raise_for_status()
        small.append((time.perf_counter() - started) * 1000)
    print(f"one-event POST: median {statistics.median(small):.1f} ms of 50\n")

    gz = {"Content-Encoding": "gzip"}
    cases: list[tuple[str, Callable[[], httpx.Response]]] = [
        ("100,000 empty gzip members (2 MB), events", post("events", gzip_members(100_000), **gz)),
        ("200,000 empty gzip members (4 MB), events", post("events", gzip_members(200_000), **gz)),
        ("100,000 empty gzip members, rtcstats",
         post("peers/p/rtcstats?meeting_id=m", gzip_members(100_000))),
        ("5,000 peer.stats events, 8 MiB", post("events", json.dumps(big_batch()).encode())),
    ]  # fmt: skip
    for mb in dump_mb:
        cases.append(
            (f"rtcstats dump, {mb} MB", post("peers/p/rtcstats?meeting_id=m", big_dump(mb)))
        )
    for count in words:
        app = f"app-{uuid.uuid4().hex[:8]}"
        for start in range(0, len(events := long_transcript(count)), 4000):
            body = json.dumps(events[start : start + 4000]).encode()
            ingest = f"{base}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events"
            httpx.post(ingest, content=body, headers=auth, timeout=600).raise_for_status()
        cases.append(
            (f"summary of {count:,} words", lambda app=app: summary_ready(base, auth, app))
        )

    print("| request | status | took | worst /healthz | checks |")
    print("|---|---|---|---|---|")
    for name, send in cases:
        took, worst, checks, status = measure(base, send)
        print(f"| {name} | {status} | {took:.2f} s | {worst:.0f} ms | {checks} |", flush=True)


if __name__ == "__main__":
    main()
