"""Benchmark: every shape of `GET /sessions` and of a session's participants over a large app.

Loads one app with `--sessions` synthetic sessions of ten participants each straight into a
fresh database (the read path is measured, not ingestion): sessions in Python (UUIDs, folds),
batches of 5,000 through the schema's own triggers (search index, session counts); peers in
one `INSERT … SELECT` from the sessions. The last 50 sessions are LIVE. Then times each shape
through the repository functions behind the routes (median and p99 of `--runs`), and with
`--explain` prints each statement's plan (SQLite `EXPLAIN QUERY PLAN`, PostgreSQL
`EXPLAIN (ANALYZE, BUFFERS)`).

    .venv/bin/python bench/scale_sessions.py sqlite+aiosqlite:////tmp/scale/x.db --sessions 1000000
    .venv/bin/python bench/scale_sessions.py postgresql+asyncpg://postgres@127.0.0.1:5432/rtk_scale \\
        --sessions 1000000 --explain
    # an existing database, loaded before, is reused when --reuse is given
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import insert, select, text

from rtk_sessions.ingest.repo import pending_events
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.migrate import upgrade_async
from rtk_sessions.kit.plans import recorded
from rtk_sessions.kit.tables import accounts, apps, sessions
from rtk_sessions.sessions import service
from rtk_sessions.sessions.folding import fold
from rtk_sessions.sessions.queries import participants_request, session_query

T0 = 1_700_000_000_000
STEP = 60_000  # a session a minute
LIVE = 50
WORDS = ["Weekly sync", "Design review", "Customer onboarding", "Standup", "Board review"]
WORDS += ["All hands", "Retro", "1:1"]
NAMES = ["Alice Smith", "Bob Jones", "Carol White", "Dan Brown", "Eve Black"]
NAMES += ["Frank Green", "Grace Hall", "Heidi King", "Ivan Long", "Judy Moss"]


def _session(pk: int, i: int, n: int, rnd: random.Random) -> dict[str, Any]:
    t = T0 + i * STEP
    live = i >= n - LIVE
    title, meeting_id = f"{rnd.choice(WORDS)} {i}", str(uuid.UUID(int=rnd.getrandbits(128)))
    open_count = rnd.randint(1, 5) if live else 0
    return dict(
        app_pk=pk,
        id=str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
        meeting_id=meeting_id,
        parent_session_id=None,
        title=title,
        title_folded=fold(title),
        meeting_id_folded=fold(meeting_id),
        type="meeting",
        meta=None,
        status="LIVE" if live else "ENDED",
        started_at=t,
        ended_at=None if live else t + 1_800_000,
        own_ended_at=None if live else t + 1_800_000,
        max_concurrent=rnd.randint(1, 12),
        open_count=open_count,
        closed_ms=rnd.randint(0, 10**7) // 1000 * 1000,  # coarse: many ties
        open_join_sum_ms=open_count * t,
        own_updated_at=t,
        updated_at=t,
    )


def _peers_sql(pk: int) -> str:
    """Ten peers per session, built by the database from the sessions."""
    js = " UNION ALL ".join(f"SELECT {j} AS j" for j in range(10))
    name = "CASE j " + " ".join(f"WHEN {j} THEN '{n}'" for j, n in enumerate(NAMES)) + " END"
    return f"""
        INSERT INTO peers (app_pk, id, session_id, meeting_id, user_id, custom_participant_id,
            display_name, preset_name, preset_view_type, socket_session_id, joined_at, left_at,
            updated_at, id_folded, user_id_folded, custom_participant_id_folded,
            display_name_folded)
        SELECT s.app_pk, s.id || '-p' || j, s.id, s.meeting_id, 'user-' || j, NULL,
            {name}, 'participant', 'GROUP_CALL', NULL, s.started_at + j * 1000,
            CASE WHEN s.status = 'LIVE' THEN NULL ELSE s.started_at + 600000 + j * 7919 END,
            s.started_at, s.id || '-p' || j, 'user-' || j, '', lower({name})
        FROM sessions s CROSS JOIN ({js}) AS js WHERE s.app_pk = {pk}
    """


async def load(db: Database, n: int) -> tuple[int, float]:
    t0 = time.perf_counter()
    rnd = random.Random(7)
    async with db.write() as c:
        await c.execute(insert(accounts).values(id="s", created_at=0))
        pk = (
            await c.execute(
                insert(apps).values(account_id="s", app_id="s", created_at=0).returning(apps.c.pk)
            )
        ).scalar_one()
    for k in range(0, n, 5000):
        async with db.write() as c:
            rows = [_session(pk, i, n, rnd) for i in range(k, min(n, k + 5000))]
            await c.execute(insert(sessions), rows)
    t_sessions = time.perf_counter() - t0
    async with db.write() as c:
        await c.exec_driver_sql(_peers_sql(pk))
    # PostgreSQL: what autovacuum does shortly after a load. SQLite: nothing, as in the
    # service, which never runs ANALYZE (the plans must not depend on statistics).
    if db.dialect == "postgresql":
        async with db.reader.connect() as c:
            ac = await c.execution_options(isolation_level="AUTOCOMMIT")
            await ac.exec_driver_sql("VACUUM ANALYZE sessions")
            await ac.exec_driver_sql("VACUUM ANALYZE peers")
    took = time.perf_counter() - t0
    print(
        f"loaded {n} sessions in {t_sessions:.0f} s, peers and ANALYZE: {took - t_sessions:.0f} s"
    )
    return pk, took


def shapes(n: int, meeting: str, session: str) -> list[tuple[str, dict[str, str]]]:
    middle = T0 + n // 2 * STEP
    day = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(middle / 1000)),)
    day_end = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((middle + 86_400_000) / 1000)),)
    last = str(n // 25)
    return [
        ("page", {}),
        ("page ASC", {"sort_order": "ASC"}),
        ("status=LIVE", {"status": "LIVE"}),
        ("status=ENDED", {"status": "ENDED"}),
        ("one day (start_time, end_time)", {"start_time": day[0], "end_time": day_end[0]}),
        ("associated_id", {"associated_id": meeting}),
        ("participants=3:5", {"participants": "3:5"}),
        ("participants=12", {"participants": "12"}),
        ("search=board review 1999", {"search": "board review 1999"}),
        ("search=xyz (no hit)", {"search": "xyz"}),
        ("search=zq (2 chars, no hit)", {"search": "zq"}),
        ("search=meeting id prefix", {"search": meeting[:13]}),
        ("sort=minutesConsumed", {"sort_by": "minutesConsumed"}),
        ("sort=minutesConsumed ASC", {"sort_by": "minutesConsumed", "sort_order": "ASC"}),
        ("minutes + status=ENDED", {"sort_by": "minutesConsumed", "status": "ENDED"}),
        ("minutes + participants=3:5", {"sort_by": "minutesConsumed", "participants": "3:5"}),
        (
            "minutes + one day",
            {"sort_by": "minutesConsumed", "start_time": day[0], "end_time": day_end[0]},
        ),
        ("status=ENDED + participants=3:5", {"status": "ENDED", "participants": "3:5"}),
        ("page 400 (offset 9,975)", {"page_no": "400"}),
        ("middle page (the deepest walk)", {"page_no": str(n // 50)}),
        ("last page", {"page_no": last}),
        ("minutes, page 400", {"sort_by": "minutesConsumed", "page_no": "400"}),
        ("minutes, middle page", {"sort_by": "minutesConsumed", "page_no": str(n // 50)}),
        ("minutes, last page", {"sort_by": "minutesConsumed", "page_no": last}),
        ("participants of a session", {"@participants": session}),
        ("participants search", {"@participants": session, "search": "alice"}),
        (
            "participants sort=duration",
            {"@participants": session, "sort_by": "duration", "sort_order": "DESC"},
        ),
        ("participants view=consolidated", {"@participants": session, "view": "consolidated"}),
        ("session detail", {"@detail": session}),
        ("pending events", {"@pending": ""}),
    ]


def request(app: AppRef, now: int, params: dict[str, str]) -> Callable[[Any], Awaitable[Any]]:
    params = dict(params)
    if "@participants" in params:
        sid = params.pop("@participants")
        req = participants_request(params)
        return lambda c: service.list_participants(c, app, sid, req, now)
    if "@detail" in params:
        sid = params.pop("@detail")
        return lambda c: service.get_session(c, app, sid, False, now)
    if "@pending" in params:
        return lambda c: pending_events(c, app.pk, 25, 0)
    q = session_query(params)
    return lambda c: service.list_sessions(c, app, q, now)


async def explain(db: Database, statement: str, params: Any) -> list[str]:
    async with db.read() as c:
        if db.is_sqlite:
            rows = await c.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            return [str(tuple(r)[-1]) for r in rows]
        rows = await c.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
        return [str(r[0]) for r in rows]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(url: str) -> Iterator[tuple[str, str]]:
    """`rtk-sessions serve` (one process) on the loaded database, on a free loopback port in
    its own process group, killed when the block ends; (base URL, read token)."""
    data_dir = Path(tempfile.mkdtemp(prefix="rtk-scale-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTK_")}
    env.update(
        RTK_DATA_DIR=str(data_dir), RTK_HOST="127.0.0.1", RTK_PORT=str(_free_port()),
        RTK_DATABASE_URL=url, RTK_LOG_LEVEL="warning",
        RTK_RATE_LIMIT_READ="100000000/minute", RTK_RATE_LIMIT_INGEST="100000000/minute",
    )  # fmt: skip
    made = subprocess.run(
        [sys.executable, "-m", "rtk_sessions", "token", "create", "--account", "s",
         "--permission", "read", "--permission", "ingest"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    token = made.stdout.strip().splitlines()[-1]
    log = (data_dir / "server.log").open("a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtk_sessions", "serve"], env=env, stdout=log, stderr=log,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{env['RTK_PORT']}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited: {(data_dir / 'server.log').read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("no /healthz within 120 s")
            time.sleep(0.2)
        yield base, token
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def http_path(params: dict[str, str]) -> str:
    params = dict(params)
    prefix = "/client/v4/accounts/s/realtime/kit/s"
    if "@participants" in params:
        path = f"{prefix}/sessions/{params.pop('@participants')}/participants"
    elif "@detail" in params:
        path = f"{prefix}/sessions/{params.pop('@detail')}"
    elif "@pending" in params:
        path = "/ingest/v1/accounts/s/apps/s/pending"
        params.pop("@pending")
    else:
        path = f"{prefix}/sessions"
    return path + ("?" + urlencode(params) if params else "")


def over_http(url: str, requests: int, cases: list[tuple[str, dict[str, str]]]) -> None:
    """p50/p99 per shape over HTTP: one sequential keep-alive client, as the SDK is."""
    with server(url) as (base, token):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            print(f"\nover HTTP, {requests} requests per shape; load average "
                  f"{os.getloadavg()[0]:.2f}\n| shape | p50 ms | p99 ms |\n|---|---|---|")  # fmt: skip
            for label, params in cases:
                path = http_path(params)
                times: list[float] = []
                for i in range(requests + 5):
                    t0 = time.perf_counter()
                    r = client.get(path)
                    took = (time.perf_counter() - t0) * 1000
                    if r.status_code != 200:
                        raise SystemExit(f"{path} answered {r.status_code}: {r.text[:300]}")
                    if i >= 5:  # the first few warm plans and caches
                        times.append(took)
                print(f"| {label} | {statistics.median(times):.2f} | {_p(times, 0.99):.2f} |",
                      flush=True)  # fmt: skip
            print(f"load average at the end {os.getloadavg()[0]:.2f}")


def _p(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--reuse", action="store_true", help="the database is already loaded")
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--only", default="", help="shape labels containing this text")
    ap.add_argument("--skip", default="", help="leave out shape labels containing this text")
    ap.add_argument("--http", type=int, default=0, metavar="N",
                    help="then N requests per shape over HTTP to `rtk-sessions serve`")  # fmt: skip
    args = ap.parse_args()
    await upgrade_async(args.url)
    db = Database(args.url)
    if args.reuse:
        async with db.read() as c:
            pk = (await c.execute(select(apps.c.pk).where(apps.c.app_id == "s"))).scalar_one()
    else:
        pk, _ = await load(db, args.sessions)
    async with db.read() as c:
        n = (await c.execute(text(f"SELECT count(*) FROM sessions WHERE app_pk = {pk}"))).scalar()
        mid = (
            await c.execute(
                select(sessions.c.id, sessions.c.meeting_id)
                .where(sessions.c.app_pk == pk)
                .order_by(sessions.c.started_at.desc())
                .limit(1)
                .offset(n // 2)
            )
        ).one()
    app, now = AppRef(pk, "s"), T0 + (n + 60) * STEP
    print(f"{n} sessions; nproc {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}")
    cases = [
        (label, params)
        for label, params in shapes(n, mid.meeting_id, mid.id)
        if (not args.only or args.only in label) and not (args.skip and args.skip in label)
    ]
    print("in process (repository and service functions, no HTTP)")
    print("| shape | rows | p50 ms | p99 ms |\n|---|---|---|---|")
    for label, params in cases:
        run = request(app, now, params)
        times: list[float] = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            async with db.read() as c:
                out = await run(c)
            times.append((time.perf_counter() - t0) * 1000)
        rows = len(out[0]) if isinstance(out, tuple) else (len(out) if isinstance(out, list) else 1)
        total = f" of {out[1].total_count}" if isinstance(out, tuple) else ""
        print(
            f"| {label} | {rows}{total} | {statistics.median(times):.2f} | {_p(times, 0.99):.2f} |",
            flush=True,
        )
        if args.explain:
            with recorded(db) as seen:
                async with db.read() as c:
                    await run(c)
            for statement, bound in seen:
                print("\n    " + " ".join(statement.split()))
                for line in await explain(db, statement, bound):
                    print("      " + line)
            print()
    await db.dispose()
    if args.http:
        over_http(args.url, args.http, cases)


if __name__ == "__main__":
    asyncio.run(main())
