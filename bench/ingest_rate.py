"""Benchmark: ingestion rate in batches of 1,000 events, durable, on SQLite and PostgreSQL.

The events are the load generator's data set (bench/loadgen.py `DataSet`: meetings with
titles, joins and leaves with reconnects and breakout rooms, chat, transcripts, telemetry for a
share of the peers), in time order, cut into batches of `--batch`. Two paths:

* `service`: in-process, `check_batch` + `accept` in one write transaction per batch — what
  `POST .../events` does minus HTTP, body decoding and the worker process;
* `http`: the same batches posted to a real `rtk-sessions serve` on loopback (started here with
  a data dir of its own), one request at a time, then two in flight (as `bench/loadgen.py`).

CPU is this process's (service path: Python and SQLite's thread) or the server's with its
worker processes (HTTP); PostgreSQL's own processes are not counted. Every batch is committed
before the next is timed (SQLite `synchronous=FULL` unless the server
setting says otherwise). PostgreSQL runs in a database of the script's own, created and dropped
here; autovacuum is off on the test server, so the script runs `ANALYZE` after every
`--analyze-every` events, standing in for it. Prints events/s per path and database.

    .venv/bin/python bench/ingest_rate.py [--sessions 1500] [--paths service,http] \\
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import DataSet, cpu_seconds, options, own_server

from rtk_sessions.ingest import service as ingest
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.migrate import upgrade_async
from rtk_sessions.kit.timeutil import now_ms

Event = dict[str, Any]
PG_DB = "rtk_ingest_rate"


def batches(sessions: int, batch: int, telemetry_share: float, now: int) -> list[list[Event]]:
    """The load generator's data set (seed 7) in batches of `batch` events, time order."""
    args = options(["--start-server", "--sessions", str(sessions),
                    "--telemetry-share", str(telemetry_share)])  # fmt: skip
    data = DataSet(args, now)
    events = [e for _, chunk in data.chunks() for e in chunk]
    return [events[i : i + batch] for i in range(0, len(events), batch)]


async def _analyze(db: Database) -> None:
    if not db.is_sqlite:
        async with db.write() as conn:
            await conn.execute(text("ANALYZE"))


async def service_path(
    url: str, work: list[list[Event]], analyze_every: int
) -> tuple[int, float, float]:
    """(events, seconds, CPU seconds of this process) through check_batch + accept, one
    transaction per batch."""
    await upgrade_async(url)
    db = Database(url)
    total, since, took, cpu = 0, 0, 0.0, 0.0
    try:
        for events in work:
            start, used = time.perf_counter(), time.process_time()
            now = now_ms()
            valid = ingest.check_batch(events, now)
            async with db.write() as conn:
                await ingest.accept(conn, "bench", "rate", valid, now, 0)
            took += time.perf_counter() - start
            cpu += time.process_time() - used
            total += len(events)
            since += len(events)
            if since >= analyze_every:  # untimed: stands in for autovacuum
                await _analyze(db)
                since = 0
    finally:
        await db.dispose()
    return total, took, cpu


async def http_path(
    base: str, token: str, work: list[list[Event]], inflight: int, analyze: Any
) -> tuple[int, float]:
    """(events, seconds) posting the batches, `inflight` requests at a time."""
    url = f"{base}/ingest/v1/accounts/loadgen/apps/loadgen/events"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [msgspec.json.encode(events) for events in work]
    total = 0
    async with httpx.AsyncClient(headers=headers, timeout=120) as client:

        async def post(body: bytes) -> int:
            r = await client.post(url, content=body)
            if r.status_code != 200:
                raise SystemExit(f"ingest answered {r.status_code}: {r.text[:300]}")
            data = r.json()["data"]
            return int(data["accepted"]) + int(data["duplicates"])

        took = 0.0
        group = max(1, 20_000 // max(1, len(work[0])))  # batches between ANALYZEs
        for lo in range(0, len(bodies), group):
            start = time.perf_counter()
            queue = list(bodies[lo : lo + group])
            running: set[asyncio.Task[int]] = set()
            while queue or running:
                while queue and len(running) < inflight:
                    running.add(asyncio.create_task(post(queue.pop(0))))
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                total += sum(t.result() for t in done)
            took += time.perf_counter() - start
            await analyze()
    return total, took


async def _pg_database(admin_url: str, create: bool) -> str:
    """Create (or drop) the script's own PostgreSQL database; returns its URL."""
    parsed = make_url(admin_url)
    engine = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        if create:
            await conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    await engine.dispose()
    return parsed.set(database=PG_DB).render_as_string(hide_password=False)


@contextmanager
def server(database_url: str | None, extra_env: dict[str, str]) -> Iterator[tuple[str, str, int]]:
    args = options(["--start-server"])
    args.server_env = extra_env
    saved = os.environ.get("RTK_DATABASE_URL")
    if database_url:
        os.environ["RTK_DATABASE_URL"] = database_url
    try:
        with own_server(args) as started:
            yield started
    finally:
        if database_url:
            if saved is None:
                del os.environ["RTK_DATABASE_URL"]
            else:
                os.environ["RTK_DATABASE_URL"] = saved


def line(name: str, events: int, took: float, cpu: float) -> None:
    print(f"| {name} | {events:,} | {took:.1f} s | **{events / took:,.0f} events/s** | "
          f"{events / cpu:,.0f} |")  # fmt: skip
    sys.stdout.flush()


async def run(args: argparse.Namespace) -> None:
    work = batches(args.sessions, args.batch, args.telemetry_share, now_ms() - 5000)
    n = sum(len(b) for b in work)
    print(f"cores: {os.cpu_count()}; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; {n:,} events in "
          f"{len(work)} batches of {args.batch}\n")  # fmt: skip
    print("| path | events | time | rate | events per CPU second |\n|---|---|---|---|---|")
    targets: list[tuple[str, str | None]] = []
    if "sqlite" in args.databases:
        targets.append(("SQLite", None))
    if "pg" in args.databases:
        targets.append(("PostgreSQL", args.pg))
    for name, pg in targets:
        if "service" in args.paths:
            tmp = tempfile.mkdtemp(prefix="rtk-rate-")
            try:
                url = await _pg_database(pg, True) if pg else f"sqlite+aiosqlite:///{tmp}/r.db"
                events, took, cpu = await service_path(url, work, args.analyze_every)
                line(f"{name}, service path", events, took, cpu)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
                if pg:
                    await _pg_database(pg, False)
        if "http" in args.paths:
            for inflight in args.inflight:
                pg_url = await _pg_database(pg, True) if pg else None
                try:
                    with server(pg_url, {}) as (base, token, pid):

                        async def analyze(url: str | None = pg_url) -> None:
                            if url:
                                db = Database(url)
                                await _analyze(db)
                                await db.dispose()

                        used = cpu_seconds(pid)
                        events, took = await http_path(base, token, work, inflight, analyze)
                        cpu = cpu_seconds(pid) - used
                        line(f"{name}, HTTP, {inflight} in flight", events, took, cpu)
                finally:
                    if pg:
                        await _pg_database(pg, False)
    print(f"\nload average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sessions", type=int, default=1500, help="loadgen sessions (≈38 events each)")
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--telemetry-share", type=float, default=0.05,
                   help="share of peers with telemetry; each queues a peer-report job")  # fmt: skip
    p.add_argument("--paths", default="service,http")
    p.add_argument("--databases", default="sqlite,pg")
    p.add_argument("--inflight", default="1,2", help="HTTP requests in flight, e.g. 1,2")
    p.add_argument("--analyze-every", type=int, default=20_000)
    p.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    args = p.parse_args()
    if not 1 <= args.sessions <= 100_000 or not 1 <= args.batch <= 5000:
        p.error("--sessions: 1 to 100,000; --batch: 1 to 5,000")
    args.paths = args.paths.split(",")
    args.databases = args.databases.split(",")
    args.inflight = [int(x) for x in args.inflight.split(",")]
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
