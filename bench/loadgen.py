"""Load generator: a data set through the real ingestion API, then a mixed read load, and an
RSS soak, against a running `rtk-sessions serve` on loopback.

1. Load: `--sessions` sessions of `--participants` people each (reconnects and a few breakout
   rooms add peers), with chat, transcripts and telemetry unless switched off, built from the
   demo generator's pieces (rtk_sessions.demo.events, demo.telemetry), posted in batches of
   `--batch` events to `POST /ingest/v1/.../events`. Prints events/s, then waits (at most
   `--settle` s) for the peer-report jobs the load queued, so that reads are measured alone.
2. Reads: for each `--concurrency` level, `--duration` seconds (or `--requests` requests) of
   a weighted mix of the read API (sessions list, search, status / participants / date filters,
   sorting, details, raw and consolidated participants, participant search, peer reports).
   Prints throughput and p50/p95/p99 per kind and overall, and the CPU this client used.
3. Soak (`--soak SECONDS`): the same mix at the highest concurrency while the server's RSS is
   sampled every `--rss-every` seconds from /proc; prints start/end/max and the slope.

Loopback only; every loop is bounded in time and count.

    .venv/bin/python bench/loadgen.py --start-server --sessions 10000 --telemetry-share 0.01 \\
        --concurrency 1,16 --duration 60 --soak 600
    .venv/bin/python bench/loadgen.py --url http://127.0.0.1:8787 --token TOKEN --sessions 0 \\
        --server-pid PID --concurrency 16 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import msgspec
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from rtk_sessions.demo import content as text
from rtk_sessions.demo.events import MINUTE, SECOND, Meeting, Person, Plan, Stint, _Demo
from rtk_sessions.demo.telemetry import Telemetry, _rooms
from rtk_sessions.kit.timeutil import to_iso

Event = dict[str, Any]
console = Console(stderr=True)
MAX_DURATION = 4 * 3600  # no phase runs longer, whatever the options say
MAX_REQUESTS = 10_000_000
REQUEST_TIMEOUT = 30.0
CHUNK_SESSIONS = 100  # sessions generated at a time (memory stays flat for any size)

# The read mix: kind -> weight. Pages of the list dominate, as in a dashboard.
MIX: dict[str, int] = {
    "list": 3,
    "search": 2,
    "filter_status": 1,
    "filter_participants": 1,
    "filter_dates": 1,
    "sort": 1,
    "details": 3,
    "participants_raw": 2,
    "participants_consolidated": 2,
    "participants_search": 1,
    "peer_report": 2,
}


# --- the data set ------------------------------------------------------------------------


class DataSet:
    """`sessions` sessions spread over the past weeks, generated CHUNK_SESSIONS at a time in
    time order; all randomness from `seed`, so the same options give the same events (and a
    second load of them is all duplicates)."""

    def __init__(self, args: argparse.Namespace, now: int) -> None:
        self.sessions, self.seed, self.now = args.sessions, args.seed, now
        self.participants = args.participants
        self.chat, self.transcripts = args.chat, args.transcripts
        self.telemetry_share = args.telemetry_share if args.telemetry else 0.0
        self.rng = random.Random(args.seed)
        self.demo = _Demo(self.rng, now, args.seed)
        self.people = self.demo.people(max(160, 2 * self.participants))
        titles = [(kind, t) for kind, ts in text.MEETING_TITLES.items() for t in ts]
        self.meetings = []
        for i in range(max(len(titles), self.sessions // 10)):
            kind, title = titles[i % len(titles)]
            if i >= len(titles):
                title = f"{title} #{i // len(titles) + 1}"
            pool = self.rng.sample(self.people, min(len(self.people), self.participants + 4))
            minutes = self.rng.choice((15, 25, 30, 30, 45, 60))
            self.meetings.append(Meeting(self.demo.uid(), title, kind, pool, 0, minutes))
        span = max(21 * 24 * 60 * MINUTE, self.sessions * 6 * MINUTE)
        self.first = now - 2 * 60 * MINUTE - span
        self.step = span / max(1, self.sessions)
        self.live = min(3, self.sessions // 100)  # the last ones are still going
        self.announced: set[str] = set()
        self.count = 0
        self.reported_peers: list[str] = []  # peers given telemetry (a sample, for reads)

    def plan(self, i: int) -> Plan:
        rng, m = self.rng, self.meetings[i % len(self.meetings)]
        if i >= self.sessions - self.live:
            plan = Plan(m, self.now - rng.randint(10, 40) * MINUTE, None)
        else:
            start = self.first + int(i * self.step) + rng.randrange(max(1, int(self.step // 2)))
            length = max(5, round(m.minutes * rng.uniform(0.7, 1.3))) * MINUTE
            plan = Plan(m, start, start + length, host_ends=rng.random() < 0.25)
        if m.id not in self.announced:
            self.announced.add(m.id)
            meta = {"team": rng.choice(text.TEAMS), "source": "loadgen"}
            kinds = text.KINDS[m.kind]
            self.demo.emit(plan.start - MINUTE, "meeting.updated", m.id, title=m.title,
                           session_type=kinds[0], meta=meta)  # fmt: skip
        people: list[Person] = [m.pool[0], *rng.sample(m.pool[1:], self.participants - 1)]
        _, _, host_preset, preset, _ = text.KINDS[m.kind]
        for k, person in enumerate(people):
            joined, left, says_left = self.demo._times(plan, k)
            chosen = host_preset if k == 0 else preset
            plan.stints.append(Stint(self.demo.uid(), self.demo.uid(), person, m.id, chosen,
                                     joined, left, says_left))  # fmt: skip
        for stint in list(plan.stints[1:]):
            if rng.random() < 0.05:
                self.demo._reconnect(plan, stint)
        if plan.end is not None and len(plan.stints) >= 6 and rng.random() < 0.01:
            self.demo.breakouts(plan)
        return plan

    def chunks(self) -> Iterator[tuple[int, list[Event]]]:
        """(sessions in the chunk, its events in time order)."""
        tel = Telemetry(self.rng, self.now, self.demo.emit)
        for lo in range(0, self.sessions, CHUNK_SESSIONS):
            hi = min(self.sessions, lo + CHUNK_SESSIONS)
            self.demo.out = []
            plans = [self.plan(i) for i in range(lo, hi)]
            for plan in plans:
                self.demo.lifecycle(plan)
                if self.chat:
                    self.demo.chat(plan)
                if self.transcripts and (plan.end is None or self.rng.random() < 0.5):
                    self.demo.transcript(plan)
            if self.telemetry_share:
                for room in _rooms(plans):
                    for stint in room.stints:
                        if self.rng.random() < self.telemetry_share:
                            tel.metadata(stint, text.KINDS[room.kind][4])
                            tel.peer_events(stint)
                            tel.stats(stint, room, 60)
                            if len(self.reported_peers) < 1000:
                                self.reported_peers.append(stint.peer_id)
            yield hi - lo, self.finish()

    def finish(self) -> list[Event]:
        out = []
        for at, _, body in sorted(self.demo.out, key=lambda item: (item[0], item[1])):
            self.count += 1
            out.append({"id": f"lg{self.seed}-{self.count:08d}", "type": body.pop("type"),
                        "occurred_at": to_iso(at), **body})  # fmt: skip
        return out


async def load(client: httpx.AsyncClient, url: str, data: DataSet, batch: int) -> None:
    """Posts the data set in batches of `batch`, two in flight (the client builds the next
    while the server stores one); retries 429/503 a bounded number of times."""
    totals: Counter[str] = Counter()
    inflight: set[asyncio.Task[None]] = set()
    encoder = msgspec.json.Encoder()

    async def post(events: list[Event]) -> None:
        body = encoder.encode(events)
        for attempt in range(8):
            r = await client.post(url, content=body, headers={"Content-Type": "application/json"})
            if r.status_code not in (429, 503):
                break
            await asyncio.sleep(min(10.0, 0.5 * 2**attempt))
        if r.status_code != 200:
            raise SystemExit(f"ingest answered {r.status_code}: {r.text[:500]}")
        for key, value in r.json()["data"].items():
            totals[key] = value if key == "pending" else totals[key] + value

    async def send(events: list[Event]) -> None:
        while len(inflight) >= 2:
            done, _ = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                inflight.discard(task)
                task.result()
        inflight.add(asyncio.create_task(post(events)))

    wall, cpu = time.perf_counter(), time.process_time()
    buffer: list[Event] = []
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,.0f}"
               "/{task.total:,.0f} sessions"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("loading", total=data.sessions, rate="")
        for sessions, events in data.chunks():
            buffer.extend(events)
            while len(buffer) >= batch:
                await send(buffer[:batch])
                del buffer[:batch]
            rate = totals["accepted"] + totals["duplicates"]
            bar.update(task, advance=sessions,
                       rate=f"{rate / (time.perf_counter() - wall):,.0f} events/s")  # fmt: skip
        if buffer:
            await send(buffer)
        for finished in asyncio.as_completed(list(inflight)):
            await finished
    took, used = time.perf_counter() - wall, time.process_time() - cpu
    stored = totals["accepted"] + totals["duplicates"]
    print(f"loaded {data.sessions:,} sessions: {data.count:,} events in {took:,.1f} s = "
          f"**{stored / took:,.0f} events/s** (accepted {totals['accepted']:,}, duplicates "
          f"{totals['duplicates']:,}, pending {totals['pending']:,}; client CPU "
          f"{used / took:.0%} of a core)")  # fmt: skip


async def settle(client: httpx.AsyncClient, base: str, limit: float) -> None:
    """Wait (at most `limit` s) until the server's job queue is empty (`rtk_job_queue_depth` on
    /metrics): a load queues a peer-report build per peer with telemetry, and reads measured
    while those run would measure the builds too."""
    if limit <= 0:
        return
    start = time.monotonic()
    depth = None
    while time.monotonic() - start < limit:
        r = await client.get(f"{base}/metrics")
        found = [line.split()[-1] for line in r.text.splitlines()
                 if line.startswith("rtk_job_queue_depth ")]  # fmt: skip
        if r.status_code != 200 or not found:
            print(f"job queue depth not readable (/metrics answered {r.status_code}); not waiting")
            return
        depth = float(found[0])
        if depth == 0:
            await asyncio.sleep(3)  # the jobs taken last are still running
            break
        await asyncio.sleep(2)
    state = "drained" if depth == 0 else f"still {depth:.0f} jobs waiting"
    print(f"job queue {state} after {time.monotonic() - start:,.0f} s")


# --- the read mix ------------------------------------------------------------------------


@dataclass
class Targets:
    """What the requests point at, discovered through the API itself."""

    sessions: list[str]
    peers: list[str]
    title_words: list[str]
    names: list[str]
    first: datetime
    last: datetime


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


async def discover(client: httpx.AsyncClient, prefix: str, known_peers: list[str]) -> Targets:
    """Session ids from a few pages across the list, peers and names from some of their
    participants, the history's first and last start."""

    async def get(path: str) -> Any:
        r = await client.get(prefix + path)
        r.raise_for_status()
        return r.json()

    newest = await get("/sessions?per_page=100&sort_by=createdAt&sort_order=DESC")
    total = (
        newest["paging"]["total_count"] if "paging" in newest else len(newest["data"]["sessions"])
    )
    if not newest["data"]["sessions"]:
        raise SystemExit("the app has no sessions: load some first (--sessions N)")
    oldest = await get("/sessions?per_page=1&sort_by=createdAt&sort_order=ASC")
    rows = list(newest["data"]["sessions"])
    rng = random.Random(1)
    pages = max(1, math.ceil(total / 100))
    for page in rng.sample(range(2, pages + 1), min(8, pages - 1)) if pages > 1 else []:
        rows += (await get(f"/sessions?per_page=100&page_no={page}"))["data"]["sessions"]
    words = sorted({w for r in rows for w in (r.get("meeting_display_name") or "").split()
                    if len(w) >= 4 and w.isalpha()})  # fmt: skip
    peers, names = list(known_peers), set()
    for row in rng.sample(rows, min(40, len(rows))):
        found = await get(f"/sessions/{row['id']}/participants?per_page=100")
        for p in found["data"]["participants"]:
            if not known_peers:
                peers.append(p["id"])
            if p.get("display_name"):
                names.add(p["display_name"].split()[0])
    started = [
        datetime.fromisoformat(r["started_at"]) for r in (*oldest["data"]["sessions"], rows[0])
    ]
    return Targets(
        sessions=[r["id"] for r in rows], peers=peers or [rows[0]["id"]],
        title_words=words or ["sync"], names=sorted(names) or ["a"],
        first=min(started), last=max(started),
    )  # fmt: skip


def request_maker(t: Targets) -> Callable[[str, random.Random], str]:
    """kind -> a path (after the app prefix) with random but valid parameters."""
    span = max(1.0, (t.last - t.first).total_seconds())

    def make(kind: str, rng: random.Random) -> str:
        sid = rng.choice(t.sessions)
        match kind:
            case "list":
                return f"/sessions?page_no={rng.randint(1, 20)}"
            case "search":
                return f"/sessions?search={quote(rng.choice(t.title_words))}"
            case "filter_status":
                return f"/sessions?status={rng.choice(('LIVE', 'ENDED'))}"
            case "filter_participants":
                low = rng.randint(1, 6)
                return f"/sessions?participants={low}:{low + rng.randint(0, 4)}"
            case "filter_dates":
                start = t.first.timestamp() + rng.random() * span
                window = rng.choice((1, 7, 30)) * 86400
                a = datetime.fromtimestamp(start, UTC)
                b = datetime.fromtimestamp(start + window, UTC)
                return f"/sessions?start_time={_iso(a)}&end_time={_iso(b)}"
            case "sort":
                by = rng.choice(("minutesConsumed", "createdAt"))
                return f"/sessions?sort_by={by}&sort_order={rng.choice(('ASC', 'DESC'))}"
            case "details":
                return f"/sessions/{sid}?include_breakout_rooms=true"
            case "participants_raw":
                return f"/sessions/{sid}/participants"
            case "participants_consolidated":
                return f"/sessions/{sid}/participants?view=consolidated&include_peer_events=true"
            case "participants_search":
                return f"/sessions/{sid}/participants?search={quote(rng.choice(t.names))}"
            case "peer_report":
                return f"/sessions/peer-report/{rng.choice(t.peers)}"
        raise ValueError(kind)

    return make


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, kind: str, seconds: float, outcome: str | None) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        if outcome is not None:
            self.failures.setdefault(kind, Counter())[outcome] += 1


def _pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


async def drive(
    client: httpx.AsyncClient, prefix: str, make: Callable[[str, random.Random], str],
    concurrency: int, duration: float, requests: int, seed: int, mix: dict[str, int],
) -> tuple[Results, float]:  # fmt: skip
    """`concurrency` workers send the mix until `duration` s or `requests` requests, whichever
    comes first; (results, wall seconds)."""
    results, left = Results(), [requests]
    kinds, weights = list(mix), list(mix.values())
    deadline = time.monotonic() + duration

    async def worker(n: int) -> None:
        rng = random.Random(f"{seed}:{n}")
        while time.monotonic() < deadline and left[0] > 0:
            left[0] -= 1
            kind = rng.choices(kinds, weights)[0]
            url = prefix + make(kind, rng)
            start = time.perf_counter()
            try:
                r = await client.get(url)
                outcome = None if r.status_code == 200 else str(r.status_code)
            except httpx.HTTPError as e:
                outcome = type(e).__name__
            results.add(kind, time.perf_counter() - start, outcome)

    wall = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(worker(n) for n in range(concurrency))), duration + 2 * REQUEST_TIMEOUT
    )
    return results, time.perf_counter() - wall


def report(results: Results, wall: float, concurrency: int) -> None:
    print(f"\nconcurrency {concurrency}, {wall:.1f} s\n")
    print("| kind | requests | req/s | p50 ms | p95 ms | p99 ms | failed |")
    print("|---|---|---|---|---|---|---|")
    every: list[float] = []
    for kind in [*MIX, "all"]:
        values = sorted(every) if kind == "all" else sorted(results.latencies.get(kind, []))
        if kind != "all":
            every += values
        if not values:
            continue
        if kind == "all":
            failures = sum((c for c in results.failures.values()), Counter[str]())
        else:
            failures = results.failures.get(kind, Counter())
        failed = ", ".join(f"{n} × {what}" for what, n in failures.most_common()) or "0"
        name = "**all**" if kind == "all" else kind
        print(f"| {name} | {len(values):,} | {len(values) / wall:,.1f} | "
              f"{_pct(values, 50) * 1000:.1f} | {_pct(values, 95) * 1000:.1f} | "
              f"{_pct(values, 99) * 1000:.1f} | {failed} |")  # fmt: skip


# --- the server's process: CPU and RSS from /proc ----------------------------------------


def _tree(pid: int) -> list[int]:
    """`pid` and every live process below it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [pid], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its children alive now."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for p in _tree(pid):
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """A memory figure of /proc/PID/status in MiB: VmRSS, or its part RssAnon (heap, not
    file pages), which is where a leak would show."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points."""
    n = len(points)
    if n < 2:
        return 0.0
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


async def sample_rss(pid: int, every: float, out: list[tuple[float, ...]]) -> None:
    """(seconds since start, server RSS MiB, RSS MiB of the server and its children, the
    server's RssAnon MiB) every `every` seconds until cancelled."""
    start = time.monotonic()
    while True:
        tree = 0.0
        for p in _tree(pid):
            with contextlib.suppress(OSError, RuntimeError):
                tree += rss_mib(p)
        out.append((time.monotonic() - start, rss_mib(pid), tree, rss_mib(pid, "RssAnon")))
        await asyncio.sleep(every)


def rss_report(samples: list[tuple[float, ...]]) -> None:
    labels = ("server process", "with its worker processes", "server process, RssAnon")
    for col, label in enumerate(labels, 1):
        values = [s[col] for s in samples]
        pts = [(s[0] / 60, s[col]) for s in samples]
        late = slope(pts[len(pts) // 2 :])
        start, end = values[0], values[-1]
        # Grew: it ended above where it started and the last half's trend would add more than
        # 5 % of the start (and 5 MiB) per hour.
        grew = end > start + 2 and late * 60 > max(5.0, 0.05 * start)
        print(f"{'' if 'Anon' in label else 'RSS, '}{label}: start {start:.1f} MiB, end {end:.1f} MiB, max {max(values):.1f} "
              f"MiB; slope {slope(pts):+.2f} MiB/min overall, {late:+.2f} MiB/min over the last "
              f"half; grew: **{'yes' if grew else 'no'}** ({len(values)} samples)")  # fmt: skip


# --- a server of our own -----------------------------------------------------------------


# `--trace-memory`: the first SIGUSR2 starts tracemalloc in the server, each later one writes a
# snapshot of what it traced to the next numbered file in RTK_BENCH_TRACE_DIR. Tracing starts
# with the soak, so the second snapshot holds exactly what the soak allocated and kept.
# (Signal handlers run on the main thread, between bytecodes.)
_TRACED_SERVE = """
import os, signal, sys, tracemalloc
n = [0]
def dump(*_):
    n[0] += 1
    if n[0] == 1:
        tracemalloc.start(8)
    path = os.path.join(os.environ["RTK_BENCH_TRACE_DIR"], f"{n[0]}.snap")
    tracemalloc.take_snapshot().dump(path + ".part")
    os.replace(path + ".part", path)  # whole, or not there
signal.signal(signal.SIGUSR2, dump)
from rtk_sessions.cli import main
sys.argv = ["rtk-sessions", "serve"]
main()
"""


def snapshot(pid: int, trace_dir: Path, n: int) -> Path:
    """Ask the traced server for its allocation snapshot number `n`; wait for the file."""
    path = trace_dir / f"{n}.snap"
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if path.exists():
            return path
        time.sleep(0.1)
    raise SystemExit(f"no memory snapshot {path} within 120 s")


def snapshot_report(first: Path, last: Path) -> None:
    """What grew in the server's Python allocations between two snapshots, by line."""
    import tracemalloc

    before, after = tracemalloc.Snapshot.load(str(first)), tracemalloc.Snapshot.load(str(last))
    total = sum(s.size for s in after.statistics("filename")) / 2**20
    was = sum(s.size for s in before.statistics("filename")) / 2**20
    print(f"\nPython allocations made during the soak and still held at its end "
          f"(tracemalloc): {total - was:.2f} MiB")  # fmt: skip
    for diff in after.compare_to(before, "lineno")[:15]:
        frame = diff.traceback[0]
        print(f"  {diff.size_diff / 1024:+9.1f} KiB  {diff.count_diff:+7d} blocks  "
              f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}")  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def own_server(args: argparse.Namespace) -> Iterator[tuple[str, str, int]]:
    """`rtk-sessions serve` on a free loopback port with its own data dir (the database is
    RTK_DATABASE_URL if set, else SQLite there), read and ingest rate limits off, plus the
    settings in `args.server_env` if any; (base URL, a read + ingest token limited to
    `args.app`, pid). The server is stopped when the block ends, however it ends."""
    made = args.data_dir is None
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="rtk-loadgen-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTK_")}
    for keep in ("RTK_DATABASE_URL", "RTK_JOBS_URL"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    env.update(RTK_DATA_DIR=str(data_dir), RTK_HOST="127.0.0.1", RTK_PORT=str(port),
               RTK_LOG_LEVEL="warning", RTK_RATE_LIMIT_READ="off", RTK_RATE_LIMIT_INGEST="off")  # fmt: skip
    env.update(getattr(args, "server_env", {}))
    log = (data_dir / "server.log").open("a")
    # Same process group as this script: whoever kills our group kills the server too.
    command = [sys.executable, "-m", "rtk_sessions", "serve"]
    if getattr(args, "trace_memory", False):
        (data_dir / "trace").mkdir(exist_ok=True)
        env["RTK_BENCH_TRACE_DIR"] = str(data_dir / "trace")
        args.trace_dir = data_dir / "trace"
        command = [sys.executable, "-c", _TRACED_SERVE]
    proc = subprocess.Popen(command, env=env,
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited ({proc.returncode}); see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not answer /healthz within 60 s; see {log.name}")
            time.sleep(0.1)
        made_token = subprocess.run(
            [sys.executable, "-m", "rtk_sessions", "token", "create", "--account", args.account,
             "--app", args.app, "--permission", "read", "--permission", "ingest"],
            env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        console.print(f"server pid {proc.pid} on {base}, data dir {data_dir}")
        yield base, made_token.stdout.strip().splitlines()[-1], proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if made and not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


# --- main --------------------------------------------------------------------------------


def loopback(url: str) -> str:
    """The URL without a trailing slash, if its host is 127.0.0.1 or ::1; else exit."""
    host = urlsplit(url).hostname or ""
    try:
        ok = ipaddress.ip_address(host).is_loopback and host in ("127.0.0.1", "::1")
    except ValueError:
        ok = False
    if not ok or urlsplit(url).scheme not in ("http", "https"):
        raise SystemExit(
            f"--url: loopback only, http://127.0.0.1:PORT or http://[::1]:PORT (got {url!r})"
        )
    return url.rstrip("/")


def options(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8787 (loopback only)")
    p.add_argument("--token", help="a token with read (and ingest, to load) for --account")
    p.add_argument("--server-pid", type=int, help="the server's pid, for CPU and RSS (with --url)")
    p.add_argument("--start-server", action="store_true",
                   help="start rtk-sessions serve on a free port with its own data dir "
                        "(RTK_DATABASE_URL if set), stopped at the end")  # fmt: skip
    p.add_argument("--data-dir", help="with --start-server: use this data dir (default: a new one)")
    p.add_argument("--keep", action="store_true", help="keep the data dir made by --start-server")
    p.add_argument("--account", default="loadgen")
    p.add_argument("--app", default="loadgen")
    p.add_argument("--sessions", type=int, default=1000, help="sessions to load; 0 = none")
    p.add_argument("--participants", type=int, default=4, help="people per session (2-40)")
    for name in ("chat", "transcripts", "telemetry"):
        p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--telemetry-share", type=float, default=0.2,
                   help="share of peers with telemetry (a peer.stats a minute)")  # fmt: skip
    p.add_argument("--batch", type=int, default=1000, help="events per ingest request")
    p.add_argument("--concurrency", default="1,16", help="concurrency levels, e.g. 1,16")
    p.add_argument("--duration", type=float, default=30, help="seconds per concurrency level")
    p.add_argument("--requests", type=int, default=MAX_REQUESTS, help="requests per level at most")
    p.add_argument("--soak", type=float, default=0, help="seconds of RSS soak after the levels")
    p.add_argument("--rss-every", type=float, default=5, help="RSS sampling interval, seconds")
    p.add_argument("--trace-memory", action="store_true",
                   help="with --start-server and --soak: run the server under tracemalloc "
                        "(slower) and print what grew in its Python allocations during the soak")  # fmt: skip
    p.add_argument("--mix", default="", help="kind=weight,... instead of the default read mix, "
                   "e.g. list=1 for the sessions list only; kinds: " + ", ".join(MIX))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--settle", type=float, default=900,
                   help="after loading, wait at most this long for the job queue to drain")  # fmt: skip
    args = p.parse_args(argv)
    if args.start_server == bool(args.url):
        p.error("give either --url (with --token) or --start-server")
    if args.trace_memory and not (args.start_server and args.soak):
        p.error("--trace-memory needs --start-server and --soak")
    if args.url and not args.token:
        p.error("--url needs --token")
    if args.url:
        args.url = loopback(args.url)
    if not 2 <= args.participants <= 40:
        p.error("--participants: 2 to 40")
    if not 1 <= args.batch <= 5000:
        p.error("--batch: 1 to 5000 (the ingest limit)")
    if not 0 <= args.sessions <= 1_000_000:
        p.error("--sessions: 0 to 1,000,000")
    try:
        args.mix = dict(_weight(part) for part in args.mix.split(",")) if args.mix else MIX
    except ValueError:
        p.error(f"--mix: kind=weight pairs, e.g. list=3,details=1; kinds: {', '.join(MIX)}")
    try:
        args.levels = [int(c) for c in args.concurrency.split(",")]
    except ValueError:
        p.error("--concurrency: comma-separated whole numbers, e.g. 1,16")
    if not all(1 <= c <= 512 for c in args.levels):
        p.error("--concurrency: 1 to 512 each")
    if not (0 < args.duration <= MAX_DURATION and 0 <= args.soak <= MAX_DURATION):
        p.error(f"--duration and --soak: at most {MAX_DURATION} s")
    if not 1 <= args.requests <= MAX_REQUESTS or args.rss_every < 0.1:
        p.error("--requests: 1 to 10,000,000; --rss-every: at least 0.1")
    return args


def _weight(part: str) -> tuple[str, int]:
    kind, _, weight = part.partition("=")
    if kind.strip() not in MIX:
        raise ValueError(kind)
    return kind.strip(), int(weight or 1)


async def run(args: argparse.Namespace, base: str, token: str, pid: int | None) -> None:
    limits = httpx.Limits(max_connections=max(args.levels) + 2, max_keepalive_connections=None)
    headers = {"Authorization": f"Bearer {token}"}
    prefix = f"{base}/client/v4/accounts/{args.account}/realtime/kit/{args.app}"
    print(f"machine: {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; seed {args.seed}")  # fmt: skip
    async with httpx.AsyncClient(headers=headers, timeout=REQUEST_TIMEOUT, limits=limits) as client:
        known: list[str] = []
        if args.sessions:
            data = DataSet(args, int(time.time() * 1000) - 5 * SECOND)
            ingest = f"{base}/ingest/v1/accounts/{args.account}/apps/{args.app}/events"
            await load(client, ingest, data, args.batch)
            known = data.reported_peers
            await settle(client, base, args.settle)
        targets = await discover(client, prefix, known)
        make = request_maker(targets)
        print(f"targets: {len(targets.sessions)} sessions, {len(targets.peers)} peers, "
              f"{len(targets.title_words)} title words, {len(targets.names)} names")  # fmt: skip
        phases = [(c, args.duration, False) for c in args.levels]
        if args.soak:
            phases.append((max(args.levels), args.soak, True))
        for level, duration, soak in phases:
            samples: list[tuple[float, ...]] = []
            sampler = None
            if soak:
                if pid is None:
                    raise SystemExit(
                        "--soak needs the server's pid: --start-server or --server-pid"
                    )
                sampler = asyncio.create_task(sample_rss(pid, args.rss_every, samples))
                if args.trace_memory:
                    first = await asyncio.to_thread(snapshot, pid, args.trace_dir, 1)
            cpu = time.process_time()
            server_cpu = cpu_seconds(pid) if pid else 0.0
            results, took = await drive(client, prefix, make, level, duration, args.requests,
                                        args.seed, args.mix)  # fmt: skip
            used = time.process_time() - cpu
            if sampler:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
            if soak:
                print(f"\n### soak: {duration:.0f} s")
            report(results, took, level)
            line = f"\nclient CPU {used / took:.0%} of one core"
            if pid:
                line += f"; server CPU {(cpu_seconds(pid) - server_cpu) / took:.0%} of one core"
            print(f"{line} (the machine has {os.cpu_count()})")
            if soak and samples:
                rss_report(samples)
            if soak and args.trace_memory:
                last = await asyncio.to_thread(snapshot, pid, args.trace_dir, 2)
                snapshot_report(first, last)
            sys.stdout.flush()


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through own_server, which stops the server


def main(argv: list[str] | None = None) -> None:
    args = options(argv)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)  # also when started in the background (SIGINT ignored)
    started = time.perf_counter()
    if args.start_server:
        with own_server(args) as (base, token, pid):
            asyncio.run(run(args, base, token, pid))
    else:
        asyncio.run(run(args, args.url, args.token, args.server_pid))
    console.print(f"done in {time.perf_counter() - started:,.0f} s")


if __name__ == "__main__":
    main()
