"""Live rtcstats against the real database: the upkeep marks ended the open streams whose
process stopped stamping them, and only those; an app's signing secret is made once and
replaced by a rotation; a flush interrupted by the socket's close, or failing in the blob
store or the database, loses no line and no event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from rtk_sessions.auth.repo import ensure_app
from rtk_sessions.collector import repo
from rtk_sessions.collector.identity import Family, Located, Who
from rtk_sessions.collector.repo import StreamRow
from rtk_sessions.collector.service import (
    ABANDONED_AFTER_MS,
    Access,
    Collector,
    chunk_key,
    end_abandoned_streams,
    mint_stream_token,
    rotate_secret,
    stream_dump,
)
from rtk_sessions.collector.tokens import TokenRefused, verify
from rtk_sessions.config import Settings
from rtk_sessions.ingest.rtcstats import parse_dump
from rtk_sessions.ingest.service import accept
from rtk_sessions.ingest.validation import validate_events
from rtk_sessions.kit.blobs import LocalBlobStore
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.upkeep.jobs import build_state


def row(app_pk: int, last_flush_at: int, ended_at: int | None = None) -> StreamRow:
    return StreamRow(
        str(uuid.uuid4()), app_pk, "jitsi", uuid.uuid4().hex, "m", "p", None, 1, 10, 1, 5, 0,
        last_flush_at, last_flush_at, ended_at, None,
    )  # fmt: skip


async def test_abandoned_streams_are_ended(tmp_path: Path, database_url: str, app_id: str) -> None:
    state = build_state(Settings(data_dir=tmp_path, database_url=database_url))
    now = now_ms()
    try:
        async with state.db.write() as conn:
            pk = await ensure_app(conn, "acct-collector", app_id, now)
            old, fresh = row(pk, now - ABANDONED_AFTER_MS - 1), row(pk, now - 1000)
            done = row(pk, now - ABANDONED_AFTER_MS - 1, ended_at=now - 5)
            for r in (old, fresh, done):
                await repo.insert_stream(conn, r)
        await end_abandoned_streams(state, now)
        async with state.db.read() as conn:
            after = {r.id: await repo.get_stream(conn, pk, r.id) for r in (old, fresh, done)}
        assert after[old.id] is not None and (after[old.id].ended_at, after[old.id].close_code) == (
            now,
            1006,
        )
        assert after[fresh.id] is not None and after[fresh.id].ended_at is None
        assert after[done.id] is not None and after[done.id].ended_at == now - 5
    finally:
        await state.db.dispose()


async def test_the_signing_secret_is_made_once_and_rotated(db: Database, app_id: str) -> None:
    who = Who("m", "p")
    first, _ = await mint_stream_token(db, "acct-collector", app_id, who, 60, 3600)
    second, _ = await mint_stream_token(db, "acct-collector", app_id, who, 60, 3600)
    async with db.read() as conn:
        secret = await repo.secret_of_app(conn, "acct-collector", app_id)
    assert secret is not None
    now_s = now_ms() // 1000
    for token in (first, second):
        assert verify(token, secret, now_s=now_s, max_ttl_s=3600).who == who
    await rotate_secret(db, "acct-collector", app_id)
    async with db.read() as conn:
        rotated = await repo.secret_of_app(conn, "acct-collector", app_id)
    assert rotated is not None and rotated != secret
    with pytest.raises(TokenRefused, match="bad signature"):
        verify(first, rotated, now_s=now_s, max_ttl_s=3600)


# --- flushes interrupted or failing ---------------------------------------------------------

DUMP = Path(__file__).parents[1] / "data" / "rtcstats" / "dumps" / "google-standard-stats-sfu.jsonl"
ACCOUNT, MEETING, PEER = "acct-collector", "room-live", "peer-live"
HEADER_LINES = 2  # a legacy dump's metadata and publicIP lines


class Socket:
    """The client's side of a socket: the frames it sends, then its close (None)."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = asyncio.Event()

    async def receive(self) -> str | bytes | None:
        frame = await self.frames.get()
        if frame is None:
            self.closed.set()
        return frame

    async def send_text(self, text: str) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        pass

    @property
    def close_code(self) -> int | None:
        return 1000 if self.closed.is_set() else None

    def send(self, lines: list[str]) -> None:
        for line in lines:
            self.frames.put_nowait(line)


@dataclass
class Live:
    """An app's legacy sockets, each served by a real Collector (flushing every 50 ms) over
    the real database and a local blob store."""

    state: AppState
    app_id: str
    pk: int
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def open(self, who: Who | None = None) -> Socket:
        socket = Socket()
        located = Located(None, "", "/t/obfuscated/p", "")
        collector = Collector(
            self.state, socket, Access(ACCOUNT, self.app_id, who), Family.LEGACY, "2.0",
            located, {}, {}, "127.0.0.1",
        )  # fmt: skip
        self.tasks.append(asyncio.create_task(collector.run()))
        return socket

    async def row(self) -> StreamRow | None:
        """The app's stream (each test opens one)."""
        async with self.state.db.read() as conn:
            rows, _ = await repo.list_streams(
                conn, self.pk, peer_id=None, meeting_id=None, limit=2, offset=0
            )
        return rows[0] if rows else None

    async def stored(self, lines: int) -> StreamRow:
        """The stream's row once it records at least `lines` lines."""

        async def enough() -> bool:
            row = await self.row()
            return row is not None and row.lines >= lines

        await wait_until(enough, f"{lines} lines recorded")
        row = await self.row()
        assert row is not None
        return row

    async def closed(self, socket: Socket) -> StreamRow:
        socket.frames.put_nowait(None)
        await asyncio.wait_for(asyncio.gather(*self.tasks), 30)
        row = await self.row()
        assert row is not None and row.ended_at is not None and row.peer_id == PEER
        return row

    async def assert_nothing_lost(self, row: StreamRow, sent: list[str]) -> None:
        """The dump holds the lines sent, once each and in order, between its header and its
        close line; uploading it adds no event to those the stream stored."""
        dump = b"".join([chunk async for chunk in stream_dump(self.state, row)])
        assert dump.count(b"\n") == row.lines
        assert dump.splitlines()[HEADER_LINES:-1] == [line.encode() for line in sent]
        events = parse_dump(dump, peer_id=PEER, meeting_id=MEETING).events
        valid, errors = validate_events(events, now_ms())
        assert valid and not errors
        async with self.state.db.write() as conn:
            again = await accept(conn, ACCOUNT, self.app_id, valid, now_ms(), 60_000, False)
        assert (again.accepted, again.duplicates) == (0, len(valid))


@pytest.fixture
async def live(tmp_path: Path, database_url: str, app_id: str) -> AsyncIterator[Live]:
    state = build_state(Settings(data_dir=tmp_path, database_url=database_url, rtcstats_flush=0.05))
    async with state.db.write() as conn:
        pk = await ensure_app(conn, ACCOUNT, app_id, now_ms())
    live = Live(state, app_id, pk)
    try:
        yield live
    finally:
        for task in live.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await state.db.dispose()


def dump_lines() -> list[str]:
    """The test dump's lines after its connectionInfo line, as legacy arrays of 4 items."""
    return [json.dumps(x[:4]) for x in map(json.loads, DUMP.read_text().splitlines()[1:])]


async def wait_until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(400):
        if await check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"gave up waiting for {what}")


async def test_a_flush_in_progress_at_the_close_loses_nothing(live: Live) -> None:
    """The socket closes while the ticker's flush, whose chunk is stored, waits for the
    database: that flush still commits before the close's, so nothing it took is lost (the
    identity comes late here, so that flush also reads the earlier chunks)."""
    lines = dump_lines()
    socket = live.open()
    socket.send(lines[:-10])
    before = await live.stored(HEADER_LINES + len(lines) - 10)
    assert before.events == 0  # no identity yet: stored, not read
    constraints = {"optional": [{"rtcStatsPeerId": PEER}, {"rtcStatsConferenceId": MEETING}]}
    late = [json.dumps(["constraints", "PC_0", constraints, json.loads(lines[-10])[3]])]
    async with live.state.db.write() as hold:  # the ticker's next flush waits behind this
        await repo.update_stream(hold, before.id, last_flush_at=before.last_flush_at)
        socket.send(late + lines[-10:])

        async def chunk_stored() -> bool:
            return live.state.blobs.exists(chunk_key(before.id, before.chunks))

        await wait_until(chunk_stored, "the ticker's flush to store its chunk")
        socket.frames.put_nowait(None)
        await asyncio.wait_for(socket.closed.wait(), 10)
        await asyncio.sleep(0.2)  # the close stops the ticker while its flush waits
    done = await live.closed(socket)
    await live.assert_nothing_lost(done, lines[:-10] + late + lines[-10:])


async def test_a_failed_flush_is_redone_by_the_next(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    """A chunk the blob store refuses goes back to the buffer; a flush whose transaction fails
    after its chunk was stored leaves its events and counts to the next flush. Both failures
    are real: a directory where the chunk's file goes, a trigger that aborts the update."""
    lines = dump_lines()
    thirds = [lines[: len(lines) // 3], lines[len(lines) // 3 : -10], lines[-10:]]
    socket = live.open(Who(MEETING, PEER))
    socket.send(thirds[0])
    first = await live.stored(HEADER_LINES + len(thirds[0]))
    assert first.events > 0
    blobs = live.state.blobs
    assert isinstance(blobs, LocalBlobStore)
    in_the_way = blobs.local_path(chunk_key(first.id, first.chunks))
    in_the_way.mkdir(parents=True)

    def failed(kind: type[BaseException]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            errors = [r.exc_info[1] for r in caplog.records if r.exc_info]
            return any(isinstance(e, kind) for e in errors)

        return check

    with caplog.at_level(logging.ERROR, "rtk_sessions.collector"):
        socket.send(thirds[1])
        await wait_until(failed(OSError), "a flush to fail on the blob store")
        async with failing_updates(live.state.db, first.id):
            in_the_way.rmdir()
            await wait_until(failed(DBAPIError), "a flush to fail in its transaction")
            assert blobs.exists(chunk_key(first.id, first.chunks))  # stored, not recorded
            assert await live.row() == first
    socket.send(thirds[2])
    done = await live.closed(socket)
    await live.assert_nothing_lost(done, lines)


@contextlib.asynccontextmanager
async def failing_updates(db: Database, stream_id: str) -> AsyncIterator[None]:
    """While the block runs, updating this stream's row aborts its transaction."""
    name = f"fail_{uuid.uuid4().hex[:12]}"
    if db.is_sqlite:
        create = [
            f"CREATE TRIGGER {name} BEFORE UPDATE ON rtcstats_streams "
            f"WHEN OLD.id = '{stream_id}' BEGIN SELECT RAISE(ABORT, 'injected'); END"
        ]
        drop = [f"DROP TRIGGER {name}"]
    else:
        create = [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected'; END $$",
            f"CREATE TRIGGER {name} BEFORE UPDATE ON rtcstats_streams FOR EACH ROW "
            f"WHEN (OLD.id = '{stream_id}') EXECUTE FUNCTION {name}()",
        ]
        drop = [f"DROP TRIGGER {name} ON rtcstats_streams", f"DROP FUNCTION {name}()"]
    async with db.write() as conn:
        for statement in create:
            await conn.execute(text(statement))
    try:
        yield
    finally:
        async with db.write() as conn:
            for statement in drop:
                await conn.execute(text(statement))
