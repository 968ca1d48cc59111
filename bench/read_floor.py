"""Benchmark: the read path next to its floor, per endpoint shape, all in one run.

For each shape of read request, side by side (interleaved rounds, same server, same client):

(a) the SQL the server runs for that request, replayed with the raw driver (sqlite3, asyncpg)
    on a connection of our own: every statement, with its parameters, and the BEGIN / COMMIT
    of each transaction, in the server's order; rows fetched in full, as the server does.
    The SQL is captured from the real server, not rebuilt: the server runs with a SQLAlchemy
    `before_cursor_execute` / `begin` / `commit` listener (and a hook on kit/db.py's `_ping`,
    for PostgreSQL's ping of a connection that sat idle) that records only requests carrying
    an `X-Bench-Capture` header.
(b) a trivial route added to the same app object (our `create_app`, so the same Litestar
    settings, middleware, exception handlers, request observer, uvicorn settings and process;
    built by `serve` itself) answering a static JSON body of the byte size of (c)'s answer.
    No token check, no database: the HTTP stack's floor for that many bytes.
(c) the real endpoint over HTTP.

Client: one httpx.Client, sequential, keep-alive, HTTP/1.1 (what the official SDK uses).
Prints per shape: median µs of a, b, c, c's p99, c / (a + b), statements and transactions
per request.

    .venv/bin/python bench/read_floor.py                  # SQLite, demo data
    .venv/bin/python bench/read_floor.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

With --postgres the script creates a database of its own on that server, and drops it at the
end. Loopback only; every loop is bounded; the server's process group is killed at the end,
however the run ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pickle
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from litestar import Response, get

ACCOUNT, APP = "demo-account", "demo-app"
CAPTURE_HEADER = "x-bench-capture"
SERVER_MODE = "--instrumented-serve"

# --- inside the server process ----------------------------------------------------------

_CAPTURE: ContextVar[list[tuple[Any, ...]] | None] = ContextVar("bench_capture", default=None)
_LAST: list[tuple[Any, ...]] = []


def _instrument() -> None:
    """Listeners that record what one request sends to the database, and the two routes."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    import rtk_sessions.app as app_module
    import rtk_sessions.kit.db as db_module

    @event.listens_for(Engine, "before_cursor_execute")
    def _sql(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        ops = _CAPTURE.get()
        if ops is not None:
            ops.append(("sql", statement, params, many))

    @event.listens_for(Engine, "begin")
    def _begin(conn: Any) -> None:
        ops = _CAPTURE.get()
        if ops is not None:
            ops.append(("begin", conn.dialect.name))

    @event.listens_for(Engine, "commit")
    def _commit(_conn: Any) -> None:
        ops = _CAPTURE.get()
        if ops is not None:
            ops.append(("commit",))

    @event.listens_for(Engine, "rollback")
    def _rollback(_conn: Any) -> None:
        ops = _CAPTURE.get()
        if ops is not None:
            ops.append(("rollback",))

    ping = db_module._ping

    def _recorded_ping(dialect: Any, dbapi_connection: Any) -> None:
        ops = _CAPTURE.get()
        if ops is not None:
            ops.append(("ping",))
        ping(dialect, dbapi_connection)

    db_module._ping = _recorded_ping

    bodies: dict[int, bytes] = {}

    @get("/bench/static/{size:int}", include_in_schema=False)
    async def static_body(size: int) -> Response[bytes]:
        body = bodies.get(size)
        if body is None:
            body = bodies[size] = b'{"x":"' + b"a" * max(0, size - 8) + b'"}'
        return Response(content=body, media_type="application/json")

    @get("/bench/captured", include_in_schema=False)
    async def captured() -> Response[bytes]:
        return Response(content=pickle.dumps(list(_LAST)), media_type="application/octet-stream")

    original = app_module.create_app

    def create_app(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)
        app.register(static_body)
        app.register(captured)
        inner = app.asgi_handler

        async def capturing(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and (CAPTURE_HEADER.encode(), b"1") in scope["headers"]:
                ops: list[tuple[Any, ...]] = []
                token = _CAPTURE.set(ops)
                try:
                    await inner(scope, receive, send)
                finally:
                    _CAPTURE.reset(token)
                    _LAST[:] = ops
            else:
                await inner(scope, receive, send)

        app.asgi_handler = capturing
        return app

    app_module.create_app = create_app  # `serve` imports it from the module when it runs


def _serve_instrumented() -> None:
    _instrument()
    from rtk_sessions.cli import main

    sys.argv = ["rtk-sessions", "serve"]
    main()


# --- (a): the captured SQL with the raw driver -------------------------------------------


class Replay:
    """Times one request's captured database work on a raw driver connection."""

    def time_once(self, ops: list[tuple[Any, ...]]) -> float:
        raise NotImplementedError

    def rows(self, ops: list[tuple[Any, ...]]) -> list[int]:
        """Rows each statement returns (for --show-sql)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class SqliteReplay(Replay):
    def __init__(self, path: str) -> None:
        # As kit/db.py sets up its connections (timed work excludes this).
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000",
                       "foreign_keys=ON"):  # fmt: skip
            self.conn.execute(f"PRAGMA {pragma}")

    def _run(self, ops: list[tuple[Any, ...]], counts: list[int]) -> float:
        conn = self.conn
        start = time.perf_counter()
        for op in ops:
            if op[0] == "begin":  # kit/db.py sends it with the first statement
                conn.execute("BEGIN")
            elif op[0] == "sql":
                if op[3]:
                    got = conn.executemany(op[1], op[2]).fetchall()
                else:
                    got = conn.execute(op[1], op[2]).fetchall()
                counts.append(len(got))
            elif op[0] == "commit":
                conn.execute("COMMIT")
            elif op[0] == "rollback":
                conn.execute("ROLLBACK")
        return time.perf_counter() - start

    def time_once(self, ops: list[tuple[Any, ...]]) -> float:
        return self._run(ops, [])

    def rows(self, ops: list[tuple[Any, ...]]) -> list[int]:
        counts: list[int] = []
        self._run(ops, counts)
        return counts

    def close(self) -> None:
        self.conn.close()


class PostgresReplay(Replay):
    def __init__(self, dsn: str) -> None:
        import asyncpg  # type: ignore[import-untyped]

        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(asyncpg.connect(dsn))

    async def _run(self, ops: list[tuple[Any, ...]], counts: list[int] | None = None) -> float:
        conn = self.conn
        start = time.perf_counter()
        for op in ops:
            match op[0]:
                case "ping":  # a pooled connection's liveness check, as SQLAlchemy's asyncpg pings
                    await conn.execute("BEGIN")
                    await conn.fetchrow(";")
                    await conn.execute("ROLLBACK")
                case "begin":
                    await conn.execute("BEGIN")
                case "sql" if op[3]:
                    await conn.executemany(op[1], op[2])
                    if counts is not None:
                        counts.append(0)
                case "sql":
                    got = await conn.fetch(op[1], *op[2])
                    if counts is not None:
                        counts.append(len(got))
                case "commit":
                    await conn.execute("COMMIT")
                case "rollback":
                    await conn.execute("ROLLBACK")
        return time.perf_counter() - start

    def time_once(self, ops: list[tuple[Any, ...]]) -> float:
        return self.loop.run_until_complete(self._run(ops))

    def rows(self, ops: list[tuple[Any, ...]]) -> list[int]:
        counts: list[int] = []
        self.loop.run_until_complete(self._run(ops, counts))
        return counts

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


class LayerReplay(Replay):
    """The same statements through our own database layer (kit/db.py: SQLAlchemy's async
    engine on aiosqlite / asyncpg, one `Database.read()` per captured transaction): what the
    layer adds over the raw driver. Not part of the brief's a; an extra column."""

    def __init__(self, url: str) -> None:
        from rtk_sessions.kit.db import Database

        self.loop = asyncio.new_event_loop()
        self.db = Database(url)

    @staticmethod
    def _transactions(ops: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
        groups: list[list[tuple[Any, ...]]] = []
        for op in ops:
            if op[0] == "begin":
                groups.append([])
            elif op[0] == "sql" and op[1].strip().upper() != "BEGIN" and groups:
                groups[-1].append(op)
        return groups

    async def _run(self, groups: list[list[tuple[Any, ...]]]) -> float:
        start = time.perf_counter()
        for group in groups:
            async with self.db.read() as conn:
                for _, statement, params, many in group:
                    result = await conn.exec_driver_sql(statement, params)
                    if not many and result.returns_rows:
                        result.fetchall()
        return time.perf_counter() - start

    def time_once(self, ops: list[tuple[Any, ...]]) -> float:
        return self.loop.run_until_complete(self._run(self._transactions(ops)))

    def close(self) -> None:
        self.loop.run_until_complete(self.db.dispose())
        self.loop.close()


# --- the server --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    done = subprocess.run([sys.executable, "-m", "rtk_sessions", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"rtk-sessions {args[0]} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


@contextlib.contextmanager
def own_server(database_url: str | None) -> Iterator[tuple[str, str, int, Path]]:
    """Demo data loaded, then the instrumented `serve` on a free loopback port in its own
    process group; (base URL, token, env, data dir). The group is killed when the block ends."""
    data_dir = Path(tempfile.mkdtemp(prefix="rtk-readfloor-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTK_")}
    env.update(RTK_DATA_DIR=str(data_dir), RTK_HOST="127.0.0.1", RTK_PORT=str(_free_port()),
               RTK_LOG_LEVEL="warning",
               # The limiter still runs on every request; it just never says no.
               RTK_RATE_LIMIT_READ="100000000/minute", RTK_RATE_LIMIT_INGEST="100000000/minute")  # fmt: skip
    if database_url:
        env["RTK_DATABASE_URL"] = database_url
    started = time.perf_counter()
    _cli(env, "demo")
    print(f"demo data loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    token = _cli(env, "token", "create", "--account", ACCOUNT, "--permission", "read",
                 "--permission", "ingest").strip().splitlines()[-1]  # fmt: skip
    log = (data_dir / "server.log").open("a")
    proc = subprocess.Popen([sys.executable, __file__, SERVER_MODE], env=env, stdout=log,
                            stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{env['RTK_PORT']}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                log.flush()
                tail = Path(log.name).read_text()[-3000:]
                raise SystemExit(f"the server exited ({proc.returncode}):\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("no /healthz within 120 s")
            time.sleep(0.1)
        yield base, token, proc.pid, data_dir
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with contextlib.suppress(ProcessLookupError):  # children left behind, if any
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def settle(client: httpx.Client, base: str, limit: float = 300) -> None:
    """Wait (bounded) until the job queue is empty, so peer-report builds queued by the demo
    load do not run during the measurements."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = [line.split()[-1] for line in client.get(f"{base}/metrics").text.splitlines()
                 if line.startswith("rtk_job_queue_depth ")]  # fmt: skip
        if not found or float(found[0]) == 0:
            time.sleep(3)  # the jobs taken last may still be running
            return
        time.sleep(1)


# --- the shapes --------------------------------------------------------------------------


def shapes(client: httpx.Client, base: str) -> dict[str, str]:
    """shape -> URL, with parameters found through the API itself."""
    prefix = f"{base}/client/v4/accounts/{ACCOUNT}/realtime/kit/{APP}"

    def get(path: str) -> Any:
        r = client.get(prefix + path)
        r.raise_for_status()
        return r.json()

    first = get("/sessions?per_page=25")
    total = first["paging"]["total_count"]
    biggest = get("/sessions?sort_by=minutesConsumed&per_page=1")["data"]["sessions"][0]["id"]
    newest = get("/sessions?sort_by=createdAt&sort_order=DESC&per_page=1")["data"]["sessions"][0]
    oldest = get("/sessions?sort_by=createdAt&sort_order=ASC&per_page=1")["data"]["sessions"][0]
    people = get(f"/sessions/{biggest}/participants?per_page=100")["data"]["participants"]
    name = next(p["display_name"].split()[0] for p in people if p.get("display_name"))
    recent = get(f"/sessions/{newest['id']}/participants")["data"]["participants"]
    start = datetime.fromisoformat(oldest["started_at"])
    span = datetime.fromisoformat(newest["started_at"]) - start
    a = start + span / 2
    b = a + timedelta(days=7)

    def iso(t: datetime) -> str:
        return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "sessions: page of 25": f"{prefix}/sessions",
        "sessions: status=ENDED": f"{prefix}/sessions?status=ENDED",
        "sessions: participants=3:5": f"{prefix}/sessions?participants=3:5",
        "sessions: 7-day range": f"{prefix}/sessions?start_time={iso(a)}&end_time={iso(b)}",
        "sessions: search=sync": f"{prefix}/sessions?search=sync",
        "sessions: sort_by=minutesConsumed": f"{prefix}/sessions?sort_by=minutesConsumed",
        f"sessions: last page ({-(-total // 25)})": f"{prefix}/sessions?page_no={-(-total // 25)}",
        "session details (+breakout rooms)": f"{prefix}/sessions/{biggest}?include_breakout_rooms=true",
        "participants: raw": f"{prefix}/sessions/{biggest}/participants",
        "participants: consolidated + events": f"{prefix}/sessions/{biggest}/participants?view=consolidated&include_peer_events=true",
        "participants: search": f"{prefix}/sessions/{biggest}/participants?search={quote(name)}",
        "peer report": f"{prefix}/sessions/peer-report/{recent[0]['id']}",
        "pending events": f"{base}/ingest/v1/accounts/{ACCOUNT}/apps/{APP}/pending",
    }  # fmt: skip


# --- measuring ---------------------------------------------------------------------------


@dataclass
class Row:
    shape: str
    size: int
    statements: int
    transactions: int
    a: list[float]
    layer: list[float]
    b: list[float]
    c: list[float]


def _timed(client: httpx.Client, url: str) -> float:
    start = time.perf_counter()
    r = client.get(url)
    r.read()
    took = time.perf_counter() - start
    if r.status_code != 200:
        raise SystemExit(f"{url} answered {r.status_code}: {r.text[:300]}")
    return took


def measure(client: httpx.Client, base: str, shape: str, url: str, replay: Replay, layer: Replay,
            requests: int, rounds: int, show_sql: bool) -> Row:  # fmt: skip
    for _ in range(5):  # warm: plans, statement caches, the token's last-used write
        _timed(client, url)
    size = len(client.get(url).content)
    client.get(url, headers={CAPTURE_HEADER: "1"}).raise_for_status()
    ops: list[tuple[Any, ...]] = pickle.loads(client.get(f"{base}/bench/captured").content)
    if not any(op[0] == "sql" for op in ops):
        raise SystemExit(f"nothing captured for {shape}")
    static = f"{base}/bench/static/{size}"
    if len(client.get(static).content) != size:
        raise SystemExit("the static body is not the size asked for")
    if show_sql:
        print(f"\n{shape}:", file=sys.stderr)
        counts = iter(replay.rows(ops))
        for op in ops:
            if op[0] == "sql":
                sql = " ".join(op[1].split())
                print(f"  [{next(counts)} rows] {sql[:300]}{'…' if len(sql) > 300 else ''}"
                      f"  {str(op[2])[:120]}", file=sys.stderr)  # fmt: skip
            else:
                print(f"  <{op[0]}>", file=sys.stderr)
    for _ in range(5):
        replay.time_once(ops)
        layer.time_once(ops)
        _timed(client, static)
    a: list[float] = []
    via_layer: list[float] = []
    b: list[float] = []
    c: list[float] = []
    per_round = max(1, requests // rounds)
    for _ in range(rounds):  # interleaved, so that the machine's noise hits all three alike
        a += [replay.time_once(ops) for _ in range(per_round)]
        via_layer += [layer.time_once(ops) for _ in range(per_round)]
        b += [_timed(client, static) for _ in range(per_round)]
        c += [_timed(client, url) for _ in range(per_round)]
    statements = sum(1 for op in ops if op[0] == "sql" and op[1].strip().upper() != "BEGIN")
    transactions = sum(1 for op in ops if op[0] == "begin")
    return Row(shape, size, statements, transactions, a, via_layer, b, c)


def profile(client: httpx.Client, url: str, pid: int, seconds: float, out: Path) -> str:
    """py-spy (not in the lock; installed by hand for this) samples the server while this client
    sends the request sequentially for `seconds`. Only the thread holding the GIL is sampled
    (`--gil`): Python work, and C code called with the GIL held; waits in epoll or on a queue
    are not counted (without it py-spy counts aiosqlite's idle queue wait). Grouped by thread
    and by the package of the innermost Python frame."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        return "py-spy is not installed: `.venv/bin/pip install py-spy` (not in the lock)"
    record = subprocess.Popen([spy, "record", "-p", str(pid), "-r", "500", "-d", str(int(seconds)),
                               "--gil", "--threads", "--format", "raw", "-o", str(out), "--nonblocking"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        time.sleep(1)  # py-spy attaches
        deadline = time.monotonic() + seconds
        sent = 0
        while time.monotonic() < deadline and sent < 1_000_000:
            _timed(client, url)
            sent += 1
        record.wait(timeout=seconds + 30)
    finally:
        if record.poll() is None:
            record.kill()
            record.wait()
    by_thread: dict[str, int] = {}
    by_package: dict[str, int] = {}
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        thread = "event loop" if "MainThread" in frames[0] else "other threads"
        by_thread[thread] = by_thread.get(thread, 0) + n
        key = f"{thread}: {_package(frames[-1])}"
        by_package[key] = by_package.get(key, 0) + n
    lines = [f"{sent} requests in {seconds:.0f} s, {total} samples with the GIL held, at 500 Hz\n",
             "| thread: innermost frame's package | share of samples |", "|---|---|"]  # fmt: skip
    for key, n in sorted(by_package.items(), key=lambda kv: -kv[1])[:20]:
        lines.append(f"| {key} | {n / total:.1%} |")
    lines.append("\nby thread: " + ", ".join(f"{t} {n / total:.0%}" for t, n in
                                           sorted(by_thread.items(), key=lambda kv: -kv[1])))  # fmt: skip
    return "\n".join(lines)


def _package(frame: str) -> str:
    """'fn (pkg/mod.py:12)' -> 'pkg'; our code by subpackage; a stack that ends in
    asyncio.Runner.run is inside uvloop's C code (the loop itself, socket I/O)."""
    if frame.startswith("thread (") or "(" not in frame:
        return "no Python frame"
    path = frame.rpartition("(")[2].rstrip(")").rsplit(":", 1)[0]
    if path == "asyncio/runners.py":
        return "uvloop (C: the loop, socket I/O)"
    parts = path.removesuffix(".py").split("/")
    if parts[0] == "rtk_sessions" and len(parts) > 1:
        return f"rtk_sessions.{parts[1]}"
    return parts[0]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def table(rows: list[Row]) -> str:
    out = ["| shape | bytes | stmts / tx | a: SQL, raw driver | b: static route | "
           "c: endpoint | c p99 | **c / (a + b)** | a′: SQL via kit/db.py | c − b − a′ |",
           "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        a, layer, b, c = (statistics.median(x) * 1e6 for x in (r.a, r.layer, r.b, r.c))
        out.append(f"| {r.shape} | {r.size:,} | {r.statements} / {r.transactions} | "
                   f"{a:,.0f} | {b:,.0f} | {c:,.0f} | {_p(r.c, 0.99) * 1e6:,.0f} | "
                   f"**{c / (a + b):.2f}** | {layer:,.0f} | {c - b - layer:,.0f} |")  # fmt: skip
    return "\n".join(out)


@contextlib.contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """A database of our own on that server (SQLAlchemy URL), dropped at the end."""
    import asyncpg

    if urlsplit(admin_url).hostname not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("--postgres must point at a loopback server")
    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"rtk_readfloor_{os.getpid()}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE DATABASE {name}"))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def run(database_url: str | None, requests: int, rounds: int, show_sql: bool,
        profiled: str | None, profile_seconds: float, profile_raw: str | None) -> None:  # fmt: skip
    with own_server(database_url) as (base, token, pid, data_dir):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(headers=headers, timeout=30) as client:
            settle(client, base)
            replay: Replay
            layer = LayerReplay(database_url or f"sqlite+aiosqlite:///{data_dir / 'rtk.db'}")
            if database_url:
                replay = PostgresReplay(database_url.replace("postgresql+asyncpg", "postgresql"))
            else:
                replay = SqliteReplay(str(data_dir / "rtk.db"))
            try:
                urls = shapes(client, base)
                load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
                print(f"\n{'PostgreSQL' if database_url else 'SQLite'}; {os.cpu_count()} cores, "
                      f"load average {load} at the start; {requests} of each of a, b, c per "
                      f"shape in {rounds} interleaved rounds; µs, medians\n")  # fmt: skip
                rows: list[Row] = []
                for shape, url in urls.items():
                    rows.append(
                        measure(client, base, shape, url, replay, layer, requests, rounds, show_sql)
                    )
                    print(f"  measured {shape}", file=sys.stderr)
                print(table(rows))
                load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
                print(f"\nload average at the end: {load}")
                for shape, url in urls.items():
                    if profiled and profiled in shape:
                        print(f"\nprofile of the server, `{shape}`:\n")
                        kind = "postgresql" if database_url else "sqlite"
                        out = Path(f"{profile_raw}.{kind}") if profile_raw else data_dir / "p.txt"
                        print(profile(client, url, pid, profile_seconds, out))
                        break
            finally:
                replay.close()
                layer.close()


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # so that the server's group is killed on the way out


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)  # also when started in the background (ignored there)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="of each of a, b, c per shape")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--postgres", metavar="URL", help="a loopback PostgreSQL server "
                        "(postgresql+asyncpg://...); the run uses a database it creates there")  # fmt: skip
    parser.add_argument("--show-sql", action="store_true",
                        help="print each shape's captured statements and their row counts")  # fmt: skip
    parser.add_argument("--profile", metavar="SHAPE", help="after the table, sample the "
                        "server with py-spy while sending the first shape whose name contains "
                        "this (py-spy is not in the lock: pip install it into .venv)")  # fmt: skip
    parser.add_argument("--profile-seconds", type=float, default=15)
    parser.add_argument(
        "--profile-raw",
        metavar="FILE",
        help="keep py-spy's collapsed stacks in FILE.sqlite, FILE.postgresql",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    args = parser.parse_args(argv)
    requests = max(1, min(args.requests, 100_000))
    rounds = max(1, min(args.rounds, requests))
    seconds = max(2.0, min(args.profile_seconds, 600.0))
    if not args.no_sqlite:
        run(None, requests, rounds, args.show_sql, args.profile, seconds, args.profile_raw)
    if args.postgres:
        with scratch_postgres(args.postgres) as url:
            run(url, requests, rounds, args.show_sql, args.profile, seconds, args.profile_raw)


if __name__ == "__main__":
    if sys.argv[1:] == [SERVER_MODE]:
        _serve_instrumented()
    else:
        main()
