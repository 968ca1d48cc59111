"""Benchmark: validation, ingestion and read latency, on SQLite and (if reachable) PostgreSQL.

Runs in-process against real databases: validation of 5,000-event batches, ingestion of the
demo data set through `check_batch` + `store` (the HTTP handler's path minus HTTP), and the
read endpoints' service calls over the result. Prints a Markdown table; medians of repeats.

    .venv/bin/python bench/ingest_and_read.py [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/rtk_bench]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from rtk_sessions.auth.repo import ensure_app
from rtk_sessions.demo.events import generate_demo_events
from rtk_sessions.ingest import service as ingest
from rtk_sessions.ingest.validation import validate_events
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.migrate import upgrade_async
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.sessions import service as sessions
from rtk_sessions.sessions.queries import participants_request
from rtk_sessions.sessions.repo import SessionQuery


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f} ms"


def bench_validation(events: list[dict[str, Any]]) -> tuple[str, str]:
    batch = events[:5000]
    now = now_ms()
    times = []
    for _ in range(7):
        start = time.perf_counter()
        validate_events(batch, now)
        times.append(time.perf_counter() - start)
    rate = len(batch) / statistics.median(times)
    return median_ms(times), f"{rate:,.0f} events/s"


async def _timed(fn: Callable[[], Awaitable[Any]], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return times


async def bench_database(url: str, events: list[dict[str, Any]]) -> dict[str, str]:
    await upgrade_async(url)
    db = Database(url)
    app_id = f"bench-{time.time_ns()}"
    start = time.perf_counter()
    for i in range(0, len(events), 2000):
        now = now_ms()
        valid = ingest.check_batch(events[i : i + 2000], now)
        async with db.write() as conn:
            pk = await ensure_app(conn, "bench", app_id, now)
            await ingest.store(conn, AppRef(pk, app_id), valid, now, 0)
    ingest_s = time.perf_counter() - start
    app = AppRef(pk, app_id)

    async def list_page() -> None:
        async with db.read() as conn:
            await sessions.list_sessions(conn, app, SessionQuery(per_page=25), now_ms())

    async def search() -> None:
        async with db.read() as conn:
            await sessions.list_sessions(conn, app, SessionQuery(search="sync"), now_ms())

    async with db.read() as conn:
        rows, _ = await sessions.list_sessions(
            conn, app, SessionQuery(per_page=1, sort_by="minutesConsumed"), now_ms()
        )
    biggest = rows[0].id

    async def participants() -> None:
        req = participants_request({"view": "consolidated", "include_peer_events": "true"})
        async with db.read() as conn:
            await sessions.list_participants(conn, app, biggest, req, now_ms())

    result = {
        "ingest": f"{len(events) / ingest_s:,.0f} events/s ({ingest_s:.1f} s for {len(events):,})",
        "list 25 sessions": median_ms(await _timed(list_page, 30)),
        "search sessions": median_ms(await _timed(search, 30)),
        "consolidated participants": median_ms(await _timed(participants, 30)),
    }
    await db.dispose()
    return result


async def _reset_pg(url: str) -> None:
    """Recreate the benchmark's own database (never the tests')."""
    parsed = make_url(url)
    engine = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/rtk_bench")
    args = parser.parse_args()
    events = generate_demo_events(now_ms())
    print(f"cores: {os.cpu_count()}; demo events: {len(events):,}\n")
    took, rate = bench_validation(events)
    print(f"validate 5,000 demo events: median {took} ({rate})\n")
    targets = {"SQLite": f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"}
    try:
        await _reset_pg(args.pg)
        targets["PostgreSQL"] = args.pg
    except OSError:
        print("PostgreSQL not reachable; skipped")
    results = {name: await bench_database(url, events) for name, url in targets.items()}
    names = list(results)
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for key in results[names[0]]:
        print(f"| {key} | " + " | ".join(results[n][key] for n in names) + " |")


if __name__ == "__main__":
    asyncio.run(main())
