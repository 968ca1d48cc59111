"""Benchmark: ingestion must not slow down as the app's history grows.

The same 10,000-event batch (new meetings: joins, leaves, titles, chat, breakout rooms) is
ingested into apps that already hold 1,000, 10,000 and 100,000 sessions, through the service
path of `rtk-sessions ingest` (`check_batch` + `accept`, 2,000 events per transaction). Each
history is built once per database, through the same ingest service (5,000-event batches of a
time-ordered synthetic history: two to four peers per session, three sessions per meeting, one
meeting in twenty a breakout room, about seven events per session), and copied before every
measured run, so every run starts from the same state. Prints the median rate per history size
and the ratio of the slowest to the fastest; the sizes take turns run after run.

    .venv/bin/python bench/ingest_scaling.py [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
        [--sizes 1000,10000,100000] [--runs 7] [--work /tmp/rtk-ingest-scaling]

`--measure-only` times the batch against histories already built in `--work` (for example
with an older version of the code on `PYTHONPATH`, after `alembic downgrade`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from rtk_sessions.config import Settings
from rtk_sessions.ingest import service as ingest
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.migrate import upgrade_async
from rtk_sessions.kit.timeutil import to_iso

try:  # absent from versions before the fix, which --measure-only can time too
    from rtk_sessions.kit import plans
except ImportError:
    plans = None  # type: ignore[assignment]

ACCOUNT, APP = "bench", "scaling"
HISTORY_START = 1_735_725_600_000  # 2025-01-01T10:00Z
SESSION_EVERY_MS = 20_000  # one new session every 20 s across the app
BATCH_START = HISTORY_START + 100_000 * SESSION_EVERY_MS + 3_600_000  # after every history
BATCH_EVENTS = 10_000
NAMES = ["Ana", "Björn", "Chloé", "Dmitri", "Ñúñez", "Kenji", "Zoë", "Omar", "Priya", "Li"]
TITLES = ["Weekly sync", "Design review", "Standup", "Réunion d'équipe", "1:1", "Retro"]


def _session_events(rng: random.Random, prefix: str, s: int, meetings: int) -> list[dict[str, Any]]:
    """One session: its meeting's title (first round only), 2–4 peers, one chat message."""
    m = s % meetings
    meeting = f"{prefix}-m{m}"
    start = (HISTORY_START if prefix == "h" else BATCH_START) + s * SESSION_EVERY_MS
    out: list[dict[str, Any]] = []
    if s < meetings:
        out.append(
            {"id": f"{prefix}-t{m}", "type": "meeting.updated", "meeting_id": meeting,
             "occurred_at": to_iso(start - 1000), "title": f"{rng.choice(TITLES)} {m}"}
        )  # fmt: skip
    parent = f"{prefix}-m{m - 1}" if m % 20 == 19 else None  # a breakout room of the previous
    for k in range(rng.randint(2, 4)):
        peer = f"{prefix}-p{s}-{k}"
        joined = start + k * rng.randint(1_000, 60_000)
        join = {"id": f"{peer}-j", "type": "peer.joined", "meeting_id": meeting,
                "occurred_at": to_iso(joined), "peer_id": peer, "user_id": f"u{rng.randrange(10**6)}",
                "display_name": rng.choice(NAMES), "preset_name": "participant"}  # fmt: skip
        if parent:
            join["parent_meeting_id"] = parent
        left = joined + rng.randint(5, 40) * 60_000
        out += [
            join,
            {"id": f"{peer}-l", "type": "peer.left", "meeting_id": meeting,
             "occurred_at": to_iso(left), "peer_id": peer},
        ]  # fmt: skip
    first = f"{prefix}-p{s}-0"
    out.append(
        {"id": f"{first}-c", "type": "chat.message", "meeting_id": meeting, "peer_id": first,
         "occurred_at": to_iso(start + 90_000), "message_id": f"{first}-c", "payload": "hello"}
    )  # fmt: skip
    return out


def synthetic(prefix: str, sessions: int, seed: int) -> list[dict[str, Any]]:
    """`sessions` sessions in three rounds over `sessions / 3` meetings, in time order."""
    rng = random.Random(seed)
    meetings = max(1, sessions // 3)
    events = [e for s in range(sessions) for e in _session_events(rng, prefix, s, meetings)]
    events.sort(key=lambda e: (e["occurred_at"], e["id"]))
    return events


def measured_batch() -> list[dict[str, Any]]:
    """The batch every history receives: the first 10,000 events of 1,500 new sessions."""
    return synthetic("b", 1_500, seed=99)[:BATCH_EVENTS]


async def ingest_events(
    db: Database, events: list[dict[str, Any]], size: int
) -> tuple[float, float]:
    """Ingest like `rtk-sessions ingest` does (one transaction per batch); (wall seconds, CPU
    seconds of this process: every thread, so SQLite's work too, but not PostgreSQL's)."""
    grace = Settings().session_end_grace_ms
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(events), size):
        now = BATCH_START + 86_400_000  # a server clock after every event
        valid = ingest.check_batch(events[i : i + size], now)
        async with db.write() as conn:
            await ingest.accept(conn, ACCOUNT, APP, valid, now, grace)
    return time.perf_counter() - wall, time.process_time() - cpu


# --- one database per history, copied for every measured run -----------------------------


class Store:
    """Where histories live: SQLite files under `work`, or PostgreSQL template databases."""

    def __init__(self, work: Path, pg: str | None) -> None:
        self.work, self.pg = work, pg
        work.mkdir(parents=True, exist_ok=True)

    def url(self, name: str) -> str:
        if self.pg is None:
            return f"sqlite+aiosqlite:///{self.work / name}.db"
        return make_url(self.pg).set(database=f"rtk_{name}").render_as_string(False)

    async def exists(self, name: str) -> bool:
        if self.pg is None:
            return (self.work / f"{name}.db").exists()
        found = await self._admin(f"SELECT 1 FROM pg_database WHERE datname = 'rtk_{name}'")
        return bool(found)

    async def create(self, name: str, template: str | None = None) -> None:
        await self.drop(name)
        if self.pg is None:
            if template:
                for suffix in (".db", ".db-wal"):  # a closed database has no WAL; just in case
                    if (self.work / f"{template}{suffix}").exists():
                        shutil.copyfile(
                            self.work / f"{template}{suffix}", self.work / f"{name}{suffix}"
                        )
            return
        copy = f' TEMPLATE "rtk_{template}"' if template else ""
        await self._admin(f'CREATE DATABASE "rtk_{name}"{copy}')

    async def drop(self, name: str) -> None:
        if self.pg is None:
            for suffix in (".db", ".db-wal", ".db-shm"):
                (self.work / f"{name}{suffix}").unlink(missing_ok=True)
            return
        await self._admin(f'DROP DATABASE IF EXISTS "rtk_{name}" WITH (FORCE)')

    async def _admin(self, statement: str) -> list[Any]:
        assert self.pg is not None
        engine = create_async_engine(self.pg, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            result = await conn.execute(text(statement))
            rows = list(result) if result.returns_rows else []
        await engine.dispose()
        return rows


async def build_history(store: Store, sessions: int) -> None:
    name = f"history_{sessions}"
    if await store.exists(name):
        return
    await store.create(f"{name}_partial")
    url = store.url(f"{name}_partial")
    await upgrade_async(url)
    db = Database(url)
    events = synthetic("h", sessions, seed=7)
    seconds = 0.0
    for start in range(0, len(events), 50_000):
        seconds += (await ingest_events(db, events[start : start + 50_000], 5_000))[0]
        if db.dialect == "postgresql":  # what autovacuum does as tables grow (off on test servers)
            async with db.write() as conn:
                await conn.execute(text("ANALYZE"))
    await db.dispose()
    print(f"history of {sessions:,} sessions: {len(events):,} events in {seconds:.0f} s")
    await store.create(name, template=f"{name}_partial")
    await store.drop(f"{name}_partial")


@dataclass
class Run:
    rate: float  # events per second, wall clock
    cpu_rate: float  # events per CPU second of this process
    whole: list[str]  # plan lines that read a whole table or every row of the app


async def measure(store: Store, sessions: int, explain: bool) -> Run:
    """One run on a fresh copy of the history; `explain` also checks its statements' plans."""
    batch = measured_batch()
    await store.create("run", template=f"history_{sessions}")
    os.sync()  # the copy's write-back must not land in the timed run
    db = Database(store.url("run"))
    whole: list[str] = []
    if explain and plans is not None:
        with plans.recorded(db) as seen:
            seconds, cpu = await ingest_events(db, batch, 2_000)
        for statement, params in dict(seen).items():
            lines = await plans.plan(db, statement, params)
            whole += [f"{ln}  <- {statement[:70]!r}" for ln in plans.whole_reads(lines, db.dialect)]
    else:
        seconds, cpu = await ingest_events(db, batch, 2_000)
    await db.dispose()
    await store.drop("run")
    return Run(len(batch) / seconds, len(batch) / cpu, whole)


def report(sizes: list[int], runs: dict[int, list[Run]]) -> None:
    for label, of in (("events/s", "rate"), ("events per CPU s", "cpu_rate")):
        medians = {n: statistics.median(getattr(r, of) for r in runs[n]) for n in sizes}
        shown = ", ".join(f"{n:,}: {medians[n]:,.0f}" for n in sizes)
        ratio = min(medians.values()) / max(medians.values())
        print(f"median {label} by history size: {shown}; slowest / fastest {ratio:.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", help="PostgreSQL URL with the right to create databases")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rtk-ingest-scaling"))
    parser.add_argument("--measure-only", action="store_true")
    args = parser.parse_args()
    store = Store(args.work / ("pg" if args.pg else "sqlite"), args.pg)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"nproc = {os.cpu_count()}, {'PostgreSQL' if args.pg else 'SQLite'}")
    for sessions in sizes:
        if not args.measure_only:
            await build_history(store, sessions)
    # Sizes take turns, run after run, so that a change in the shared machine's load between
    # runs affects every size alike.
    runs: dict[int, list[Run]] = {n: [] for n in sizes}
    for i in range(args.runs):
        for sessions in sizes:
            run = await measure(store, sessions, explain=i == 0)
            runs[sessions].append(run)
            if i == 0 and plans is not None:
                print(f"{sessions:,} sessions: {len(run.whole)} plan lines read a whole table/app")
                print(*run.whole, sep="\n")
        figures = ", ".join(f"{runs[n][-1].rate:,.0f}" for n in sizes)
        print(f"run {i + 1}: {figures} events/s (load {os.getloadavg()[0]:.1f})")
    report(sizes, runs)


if __name__ == "__main__":
    asyncio.run(main())
