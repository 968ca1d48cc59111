"""Benchmark: what the rate limits cost and what they stop, against a real `rtk-sessions serve`.

1. Guessing: 2,000 wrong secrets for one token id from one address, 8 concurrent clients,
   default settings (20 failed authentications a minute): how many reach the token check.
2. Overhead: `GET /sessions` (empty app) with the limits off, counted in memory, counted in
   Redis at 127.0.0.1:6379 (one storage round trip per budget): median latency of 200
   sequential requests and throughput of 400 requests from 8 concurrent clients.

    .venv/bin/python bench/rate_limits.py
"""

from __future__ import annotations

import asyncio
import collections
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

ACCOUNT, APP = "bench-account", "bench-app"
GUESSES = 2000
REQUESTS = 400
CONCURRENCY = 8


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(**settings: str) -> Iterator[tuple[str, str]]:
    """(base URL, a read token) of a fresh server with these settings."""
    with tempfile.TemporaryDirectory() as data:
        port = _port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RTK_", "CLOUDFLARE_"))}
        env.update(RTK_DATA_DIR=data, RTK_PORT=str(port), RTK_LOG_LEVEL="warning", **settings)
        cli = [sys.executable, "-m", "rtk_sessions"]
        token = subprocess.run(
            [*cli, "token", "create", "--account", ACCOUNT, "--app", APP, "--permission", "read"],
            env=env, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        proc = subprocess.Popen([*cli, "serve"], env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            yield base, token
        finally:
            proc.terminate()
            proc.wait(timeout=20)


async def _guess(base: str, token: str) -> tuple[collections.Counter[int], float]:
    url = f"{base}/client/v4/accounts/{ACCOUNT}/realtime/kit/{APP}/sessions"
    wrong = token[: -len("guess0000")]
    statuses: collections.Counter[int] = collections.Counter()
    remaining = iter(range(GUESSES))
    async with httpx.AsyncClient(timeout=30) as client:

        async def worker() -> None:
            for i in remaining:
                headers = {"Authorization": f"Bearer {wrong}guess{i:04d}"}
                statuses[(await client.get(url, headers=headers)).status_code] += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return statuses, time.perf_counter() - start


async def _reads(base: str, token: str) -> tuple[float, float]:
    url = f"{base}/client/v4/accounts/{ACCOUNT}/realtime/kit/{APP}/sessions"
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30, headers=headers) as client:
        latencies = []
        for _ in range(200):
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


def main() -> None:
    with server() as (base, token):
        statuses, seconds = asyncio.run(_guess(base, token))
    print(f"{GUESSES} wrong guesses in {seconds:.1f} s: " + ", ".join(
        f"{count} x {status}" for status, count in sorted(statuses.items())))  # fmt: skip
    print("\n| limits | median latency | throughput |\n|---|---|---|")
    variants = {
        "off": {"RTK_AUTH_FAILURE_LIMIT": "off", "RTK_RATE_LIMIT_READ": "off"},
        "memory (default)": {},
        "Redis": {"RTK_RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379/0"},
    }
    for name, settings in variants.items():
        with server(**settings) as (base, token):
            latency, throughput = asyncio.run(_reads(base, token))
        print(f"| {name} | {latency:.1f} ms | {throughput:.0f} req/s |")


if __name__ == "__main__":
    main()
