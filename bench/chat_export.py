"""Benchmark: chat CSV export of one session with many messages (default 1,000,000).

Setup (not measured): a two-peer session is ingested through the normal path, then N chat
events (1 % of them followed by an edit of the same message id) are bulk-inserted straight
into the events table, already placed in that session, as placement would leave them. The
export then runs in a fresh child process, so its peak memory is its own:

* rate = messages / wall time of `chat_export` (SQL sort and fold, CSV writing, blob store),
  median of 3 runs, each in a fresh process and each building the file anew;
* peak memory = the child's peak RSS (ru_maxrss) before and after the export, and, in one
  more run with tracemalloc on (it slows Python down, so it is not timed), the peak of Python
  allocations during the export.

    .venv/bin/python bench/chat_export.py [--messages 1000000] [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import msgspec
from sqlalchemy import insert

from rtk_sessions.chat.service import chat_export
from rtk_sessions.cli.operations import ingest_events
from rtk_sessions.config import Settings
from rtk_sessions.ingest.schemas import Placement
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.migrate import upgrade_async
from rtk_sessions.kit.tables import events
from rtk_sessions.kit.timeutil import now_ms, to_iso
from rtk_sessions.upkeep.jobs import build_state

ACCOUNT, APP, MEETING = "bench-account", "bench-app", "bench-meeting"
T0 = now_ms() - 86_400_000  # a day ago


def lifecycle() -> list[dict[str, object]]:
    return [
        {"id": "j1", "type": "peer.joined", "meeting_id": MEETING, "occurred_at": T0,
         "peer_id": "p1", "display_name": "Alice"},
        {"id": "j2", "type": "peer.joined", "meeting_id": MEETING, "occurred_at": T0,
         "peer_id": "p2", "display_name": "Bob"},
        {"id": "l1", "type": "peer.left", "meeting_id": MEETING, "occurred_at": T0 + 3_600_000,
         "peer_id": "p1"},
        {"id": "l2", "type": "peer.left", "meeting_id": MEETING, "occurred_at": T0 + 3_600_000,
         "peer_id": "p2"},
    ]  # fmt: skip


def chat_rows(app_pk: int, session_id: str, n: int, start: int) -> list[dict[str, object]]:
    rows = []
    for i in range(start, min(n, start + 20_000)):
        at = T0 + i * 3  # 3 ms apart: a million messages fit the hour
        peer = "p1" if i % 2 else "p2"
        body = {"id": f"c{i}", "type": "chat.message", "meeting_id": MEETING, "occurred_at": at,
                "peer_id": peer, "message_id": f"m{i}",
                "payload": f'message {i}, with "quotes", commas and émoji 👋'}  # fmt: skip
        versions = [(f"c{i}", at, body)]
        if i % 100 == 0:
            edited = {**body, "id": f"c{i}e", "occurred_at": at + 1, "is_edited": True,
                      "payload": f"message {i} (edited)\nsecond line"}  # fmt: skip
            versions.append((f"c{i}e", at + 1, edited))
        for eid, when, b in versions:
            rows.append({
                "app_pk": app_pk, "id": eid, "type": "chat.message", "meeting_id": MEETING,
                "peer_id": peer, "occurred_at": when, "place_at": when, "received_at": now_ms(),
                "inferred": False, "session_id": session_id, "placement": Placement.BY_PEER,
                "body": msgspec.json.encode(b).decode(),
            })  # fmt: skip
    return rows


async def setup(settings: Settings, n: int) -> tuple[int, str]:
    await upgrade_async(settings.effective_database_url)
    state = build_state(settings)
    await ingest_events(state.db, settings, ACCOUNT, APP, lifecycle(), 100)
    async with state.db.read() as conn:
        from rtk_sessions.auth.service import resolve_app
        from rtk_sessions.sessions.repo import SessionQuery, list_sessions

        pk = await resolve_app(conn, ACCOUNT, APP)
        [session], _ = await list_sessions(conn, pk, SessionQuery(), now_ms())
    for start in range(0, n, 20_000):
        async with state.db.write() as conn:
            await conn.execute(insert(events), chat_rows(pk, session.id, n, start))
    await state.db.dispose()
    return pk, session.id


async def export(settings: Settings, pk: int, session_id: str, traced: bool) -> dict[str, float]:
    state = build_state(settings)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    _, built = await chat_export(state, AppRef(pk, APP), session_id, now_ms())
    elapsed = time.perf_counter() - started
    _, py_peak = tracemalloc.get_traced_memory() if traced else (0, 0)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    await state.db.dispose()
    return {"seconds": elapsed, "bytes": built.size, "rss_before_kib": before,
            "rss_peak_kib": after, "py_peak_bytes": py_peak}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--pg", help="PostgreSQL URL of an empty database to use")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        data_dir, pk, sid, traced = args.child
        settings = Settings(data_dir=Path(data_dir), database_url=os.environ.get("BENCH_DB", ""))
        print(json.dumps(asyncio.run(export(settings, int(pk), sid, traced == "traced"))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=args.pg or "")
        started = time.perf_counter()
        pk, sid = asyncio.run(setup(settings, args.messages))
        print(f"setup: {args.messages:,} messages in {time.perf_counter() - started:.0f} s")
        runs = [_child(settings, tmp, pk, sid, "timed") for _ in range(3)]
        traced = _child(settings, tmp, pk, sid, "traced")
        runs.sort(key=lambda r: r["seconds"])
        mid = runs[1]
        print(f"cores: {os.cpu_count()}  database: {'PostgreSQL' if args.pg else 'SQLite'}")
        print(f"export: median {mid['seconds']:.1f} s = {args.messages / mid['seconds']:,.0f} "
              f"messages/s; file {mid['bytes'] / 1e6:.0f} MB; runs "
              f"{', '.join(format(r['seconds'], '.1f') for r in runs)} s")  # fmt: skip
        print(f"memory: peak RSS {mid['rss_before_kib'] / 1024:.0f} MiB before the export, "
              f"{mid['rss_peak_kib'] / 1024:.0f} MiB after; Python allocations peak "
              f"{traced['py_peak_bytes'] / 2**20:.1f} MiB; at {to_iso(now_ms())}")  # fmt: skip


def _child(settings: Settings, tmp: str, pk: int, sid: str, mode: str) -> dict[str, float]:
    """One export in a fresh process; the recorded file is dropped so the next run rebuilds."""
    env = {**os.environ, "BENCH_DB": settings.database_url}
    out = subprocess.run(
        [sys.executable, __file__, "--child", tmp, str(pk), sid, mode],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    asyncio.run(_forget(settings))
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def _forget(settings: Settings) -> None:
    from sqlalchemy import delete

    from rtk_sessions.kit.tables import artifacts

    state = build_state(settings)
    async with state.db.write() as conn:
        await conn.execute(delete(artifacts))
    await state.db.dispose()


if __name__ == "__main__":
    main()
