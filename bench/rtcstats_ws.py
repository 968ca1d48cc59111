"""The rtcstats collector under load: memory per idle and per active WebSocket, and the
messages per second one server process takes in and stores.

Clients speak the Jitsi protocol (`3.1_STANDARD`: the `sn` handshake, an identity envelope,
then `stats-entry` envelopes), replaying the lines of a real Chrome dump from tests/data with
fresh timestamps and sequence numbers. Every peer has joined its meeting first (events API),
so the telemetry is placed, not pending.

1. Idle: `--idle` sockets (for each level), handshake and identity done, then nothing but
   keepalives. Server RSS before and after, per socket.
2. Active: `--active` sockets each sending one `getstats` a second for `--active-seconds`:
   RSS per socket and the server's CPU per message.
3. Throughput: `--senders` sockets each sending `--messages` lines back to back, then closing
   (3001, as a leaving Jitsi client). Messages per second from the first frame until every
   stream is stored (the streams list shows each ended with all its lines).

Loopback only; every loop is bounded in time and count.

    .venv/bin/python bench/rtcstats_ws.py --idle 500,2000 --active 100 --senders 16
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec
import websockets
from loadgen import console, cpu_seconds, own_server, rss_mib

DUMP = Path(__file__).parent.parent / "tests/data/rtcstats/dumps/google-standard-stats-sfu.jsonl"
PROTOCOL = "3.1_STANDARD"
MAX_SECONDS = 1800  # no phase runs longer, whatever the options say
encode = msgspec.json.encode


def replay_lines() -> tuple[list[list[Any]], list[list[Any]]]:
    """The dump's stats lines (after its connectionInfo and identity) and its getstats lines."""
    lines = [msgspec.json.decode(raw) for raw in DUMP.read_bytes().splitlines() if raw.strip()]
    body = [
        ln for ln in lines if isinstance(ln, list) and ln[0] not in ("connectionInfo", "identity")
    ]
    return body, [ln for ln in body if ln[0] == "getstats"]


class Client:
    """One Jitsi-protocol socket: its stream id, meeting, peer and sequence numbers."""

    deflate = True  # offer permessage-deflate, as browsers do

    def __init__(self, ws_base: str, token: str, meeting: str, peer: str) -> None:
        self.session = str(uuid.uuid4())
        self.meeting, self.peer = meeting, peer
        self.url = (f"{ws_base}/ingest/v1/rtcstats/t/{token}/{meeting}"
                    f"?statsSessionId={self.session}&isReconnect=false")  # fmt: skip
        self.seq = 0
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.ws = await websockets.connect(
            self.url,
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            max_size=2**20,
            compression="deflate" if self.deflate else None,
        )
        hello = msgspec.json.decode(await asyncio.wait_for(self.ws.recv(), 10))
        if hello.get("type") != "sn":
            raise SystemExit(f"expected the sn handshake, got {hello!r}")
        self.reader = asyncio.create_task(self.read_acks())
        identity = {"confName": self.meeting, "endpointId": self.peer, "displayName": self.peer,
                    "applicationName": "bench"}  # fmt: skip
        await self.send("identity", ["identity", None, identity])

    async def send(self, kind: str, line: list[Any]) -> None:
        self.seq += 1
        data = [*line[:3], int(time.time() * 1000), self.seq]
        payload = data if kind == "identity" else encode(data).decode()
        await self.ws.send(encode({"statsSessionId": self.session, "type": kind, "data": payload}))

    async def read_acks(self) -> None:
        """Read whatever the server sends, as a real client does."""
        with contextlib.suppress(Exception):
            async for _ in self.ws:
                pass

    async def keepalive(self) -> None:
        await self.ws.send(encode({"statsSessionId": self.session, "type": "keepalive"}))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code=3001)


async def join(http: httpx.AsyncClient, ingest: str, clients: list[Client]) -> None:
    """A peer.joined for every client's peer, in batches of 1,000."""
    now = int(time.time() * 1000) - 60_000
    events = [{"id": f"join-{c.peer}", "type": "peer.joined", "meeting_id": c.meeting,
               "peer_id": c.peer, "occurred_at": now} for c in clients]  # fmt: skip
    for start in range(0, len(events), 1000):
        r = await http.post(f"{ingest}/events", json=events[start : start + 1000])
        if r.status_code != 200:
            raise SystemExit(f"joining peers: {r.status_code} {r.text[:300]}")


def make_clients(base: str, token: str, n: int, tag: str) -> list[Client]:
    ws_base = "ws" + base.removeprefix("http")
    return [Client(ws_base, token, f"bench-{tag}-{i // 10}", f"peer-{tag}-{i}") for i in range(n)]


async def open_all(clients: list[Client], at_once: int = 50) -> None:
    for start in range(0, len(clients), at_once):
        await asyncio.gather(*(c.open() for c in clients[start : start + at_once]))


async def settled_rss(pid: int, seconds: float = 3.0) -> tuple[float, float]:
    """(VmRSS, RssAnon) in MiB after `seconds` of quiet."""
    await asyncio.sleep(seconds)
    return rss_mib(pid), rss_mib(pid, "RssAnon")


async def idle_phase(base: str, token: str, pid: int, http: httpx.AsyncClient, ingest: str,
                     levels: list[int]) -> None:  # fmt: skip
    before = await settled_rss(pid)
    print(
        f"\n### idle sockets\n\nserver before: RSS {before[0]:.1f} MiB, RssAnon {before[1]:.1f} MiB\n"
    )
    print("| sockets | RSS MiB | RssAnon MiB | KiB per socket (RssAnon) |\n|---:|---:|---:|---:|")
    clients: list[Client] = []
    try:
        for level in levels:
            more = make_clients(base, token, level - len(clients), f"idle{len(clients)}")
            await join(http, ingest, more)
            await open_all(more)
            clients += more
            rss, anon = await settled_rss(pid)
            per = (anon - before[1]) * 1024 / len(clients)
            print(f"| {len(clients):,} | {rss:.1f} | {anon:.1f} | {per:.1f} |")
    finally:
        closed = time.monotonic()
        await asyncio.gather(*(c.close() for c in clients))
    done = await streams_done(http, ingest, clients, time.monotonic() + MAX_SECONDS, 0)
    print(
        f"\nall {len(clients):,} sockets closed at once: every stream stored as ended after "
        f"{time.monotonic() - closed:.1f} s{'' if done else ' (NOT before the deadline)'}"
    )


async def active_phase(base: str, token: str, pid: int, http: httpx.AsyncClient, ingest: str,
                       n: int, seconds: float) -> None:  # fmt: skip
    _, stats = replay_lines()
    clients = make_clients(base, token, n, "active")
    await join(http, ingest, clients)
    before = await settled_rss(pid)
    await open_all(clients)
    cpu0, sent, start = cpu_seconds(pid), 0, time.monotonic()
    try:
        tick = 0
        while time.monotonic() - start < seconds:
            await asyncio.gather(
                *(c.send("stats-entry", stats[tick % len(stats)]) for c in clients)
            )
            sent += len(clients)
            tick += 1
            await asyncio.sleep(max(0.0, start + tick - time.monotonic()))
        rss, anon = rss_mib(pid), rss_mib(pid, "RssAnon")
        took = time.monotonic() - start
        cpu = cpu_seconds(pid) - cpu0
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    await streams_done(http, ingest, clients, time.monotonic() + MAX_SECONDS, 0)  # quiet again
    print(f"\n### {n} active sockets, one getstats a second each, {took:.0f} s\n")
    print(
        f"- server RSS {before[0]:.1f} → {rss:.1f} MiB, RssAnon {before[1]:.1f} → {anon:.1f} "
        f"MiB: **{(anon - before[1]) * 1024 / n:.0f} KiB per active socket**"
    )
    print(
        f"- server CPU {cpu / took:.0%} of one core for {sent / took:.0f} messages/s: "
        f"**{cpu / sent * 1e6:.0f} µs of CPU per message**"
    )


async def streams_done(http: httpx.AsyncClient, ingest: str, clients: list[Client],
                       deadline: float, extra_lines: int = 1) -> bool:  # fmt: skip
    """True once every client's stream is ended with all its lines stored: what it sent plus
    `extra_lines` (the dump's first line), or ended at all with `extra_lines=0`."""
    want = {c.session: c.seq + extra_lines if extra_lines else 0 for c in clients}
    meetings = sorted({c.meeting for c in clients})
    while time.monotonic() < deadline:
        stored: dict[str, int] = {}
        for meeting in meetings:
            offset, total = 0, 1
            while offset < total:
                r = await http.get(f"{ingest}/rtcstats/streams",
                                   params={"meeting_id": meeting, "limit": 100, "offset": offset})  # fmt: skip
                r.raise_for_status()
                page = r.json()["data"]
                total = page["total_count"]
                offset += 100
                for s in page["streams"]:
                    if s["stats_session_id"] in want and s["ended_at"]:
                        stored[s["stats_session_id"]] = s["lines"]
        if all(stored.get(k, -1) >= n for k, n in want.items()):
            return True
        await asyncio.sleep(0.5)
    return False


async def throughput_phase(base: str, token: str, pid: int, http: httpx.AsyncClient,
                           ingest: str, senders: int, messages: int) -> None:  # fmt: skip
    body, _ = replay_lines()
    clients = make_clients(base, token, senders, "tput")
    await join(http, ingest, clients)
    await open_all(clients)
    cpu0, start = cpu_seconds(pid), time.monotonic()

    async def blast(c: Client) -> None:
        for i in range(messages):
            await c.send("stats-entry", body[i % len(body)])

    await asyncio.gather(*(blast(c) for c in clients))
    sent_at = time.monotonic()
    await asyncio.gather(*(c.close() for c in clients))
    done = await streams_done(http, ingest, clients, time.monotonic() + MAX_SECONDS)
    took = time.monotonic() - start
    total = senders * messages
    print(
        f"\n### throughput: {senders} sockets × {messages:,} lines (a real Chrome dump's "
        "lines, getstats about 40 %)\n"
    )
    print(
        f"- sent in {sent_at - start:.1f} s; all stored after {took:.1f} s"
        f"{'' if done else ' (NOT all stored before the deadline)'}: "
        f"**{total / took:,.0f} messages/s** stored; server CPU "
        f"{(cpu_seconds(pid) - cpu0) / took:.0%} of one core"
    )


async def run(args: argparse.Namespace, base: str, token: str, pid: int) -> None:
    print(f"machine: {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    ingest = f"{base}/ingest/v1/accounts/{args.account}/apps/{args.app}"
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=300) as http:
        if args.idle:
            await idle_phase(base, token, pid, http, ingest, args.idle)
        if args.active:
            await active_phase(base, token, pid, http, ingest, args.active, args.active_seconds)
        if args.senders:
            await throughput_phase(base, token, pid, http, ingest, args.senders, args.messages)


def options(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--account", default="bench-ws")
    p.add_argument("--app", default="bench-ws")
    p.add_argument(
        "--idle", default="500,2000", help="idle socket levels, e.g. 500,2000; '' = skip"
    )
    p.add_argument("--active", type=int, default=100, help="active sockets; 0 = skip")
    p.add_argument("--active-seconds", type=float, default=30)
    p.add_argument("--senders", type=int, default=16, help="throughput sockets; 0 = skip")
    p.add_argument("--messages", type=int, default=2000, help="lines each throughput socket sends")
    p.add_argument("--flush", default="5", help="the server's RTK_RTCSTATS_FLUSH")
    p.add_argument("--deflate", action=argparse.BooleanOptionalAction, default=True,
                   help="clients offer permessage-deflate (browsers do)")  # fmt: skip
    args = p.parse_args(argv)
    args.idle = [int(x) for x in args.idle.split(",") if x.strip()]
    if any(not 1 <= x <= 10_000 for x in args.idle) or args.idle != sorted(args.idle):
        p.error("--idle: increasing levels of 1 to 10,000 sockets")
    if not (
        0 <= args.active <= 2000 and 0 <= args.senders <= 256 and 1 <= args.messages <= 100_000
    ):
        p.error("--active ≤ 2,000, --senders ≤ 256, --messages 1–100,000")
    if not 0 < args.active_seconds <= MAX_SECONDS:
        p.error(f"--active-seconds: at most {MAX_SECONDS}")
    args.data_dir, args.keep = None, False
    Client.deflate = args.deflate
    args.server_env = {"RTK_RTCSTATS_FLUSH": args.flush}
    return args


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through own_server, which stops the server


def main(argv: list[str] | None = None) -> None:
    args = options(argv)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.perf_counter()
    with own_server(args) as (base, token, pid):
        asyncio.run(run(args, base, token, pid))
    console.print(f"done in {time.perf_counter() - started:,.0f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
