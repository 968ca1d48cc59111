"""Benchmark: what the rate limits cost and what they stop, against a real `rtk-sessions serve`.

1. Guessing: 2,000 wrong secrets for one token id from one address, 8 concurrent clients,
   default settings (20 failed authentications a minute): how many reach the token check.
2. Overhead: `GET /sessions` (empty app) with the limits off, counted in memory, counted in
   Redis at 127.0.0.1:6379, measured as in bench/http_reads.py (median latency of 100
   sequential requests, throughput of 400 requests from 8 concurrent clients).

    .venv/bin/python bench/rate_limits.py
"""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from http_reads import CONCURRENCY, _measure, _port, serving

ACCOUNT, APP = "bench-account", "bench-app"
GUESSES = 2000


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
        with serving(env) as base:
            yield base, token


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
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {token}"}) as c:
        return await _measure(c, url)


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
