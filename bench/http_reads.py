"""Benchmark: the read API over HTTP against a real `rtk-sessions serve` on loopback.

Starts the server on a fresh SQLite data dir, loads the demo data through the CLI, then sends
a bounded number of requests per endpoint (sequential for latency, 8 concurrent clients for
throughput). Prints a Markdown table with medians.

    .venv/bin/python bench/http_reads.py
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

ACCOUNT, APP = "demo-account", "demo-app"
REQUESTS = 400
CONCURRENCY = 8


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "rtk_sessions", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


async def _measure(client: httpx.AsyncClient, url: str) -> tuple[float, float]:
    """(median latency in ms sequentially, requests/s with CONCURRENCY clients)."""
    latencies = []
    for _ in range(REQUESTS // 4):
        start = time.perf_counter()
        (await client.get(url)).raise_for_status()
        latencies.append(time.perf_counter() - start)
    remaining = iter(range(REQUESTS))

    async def worker() -> None:
        for _ in remaining:
            (await client.get(url)).raise_for_status()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return statistics.median(latencies) * 1000, REQUESTS / (time.perf_counter() - start)


async def run(base: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    prefix = f"{base}/client/v4/accounts/{ACCOUNT}/realtime/kit/{APP}"
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        first = (await client.get(f"{prefix}/sessions?sort_by=minutesConsumed&per_page=1")).json()
        sid = first["data"]["sessions"][0]["id"]
        urls = {
            "GET /sessions (page of 25)": f"{prefix}/sessions",
            "GET /sessions?search=sync&status=ENDED": f"{prefix}/sessions?search=sync&status=ENDED",
            "GET /sessions/{id}?include_breakout_rooms=true": f"{prefix}/sessions/{sid}?include_breakout_rooms=true",
            "GET /sessions/{id}/participants": f"{prefix}/sessions/{sid}/participants",
            "GET .../participants?view=consolidated&include_peer_events=true": f"{prefix}/sessions/{sid}/participants?view=consolidated&include_peer_events=true",
        }
        print(
            f"cores: {os.cpu_count()}; {REQUESTS} requests per row, {CONCURRENCY} concurrent clients\n"
        )
        print("| request | median latency | throughput |\n|---|---|---|")
        for name, url in urls.items():
            latency, rate = await _measure(client, url)
            print(f"| `{name}` | {latency:.1f} ms | {rate:,.0f} req/s |")


def main() -> None:
    data_dir = tempfile.mkdtemp()
    port = _port()
    env = {
        **os.environ,
        "RTK_DATA_DIR": data_dir,
        "RTK_PORT": str(port),
        "RTK_LOG_LEVEL": "warning",
    }
    _cli(env, "demo")
    token = (
        _cli(env, "token", "create", "--account", ACCOUNT, "--permission", "read")
        .strip()
        .splitlines()[-1]
    )
    with serving(env) as base:
        asyncio.run(run(base, token))


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """`rtk-sessions serve` with `env` (RTK_PORT set), once /healthz answers; its base URL."""
    server = subprocess.Popen([sys.executable, "-m", "rtk_sessions", "serve"], env=env)
    base = f"http://127.0.0.1:{env['RTK_PORT']}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
