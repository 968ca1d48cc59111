"""Importing an rtcstats dump: its lines become the peer's telemetry events, stored through the
same validation and accounting as events posted to the API (docs/rtcstats.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.auth.service import check_ids, resolve_app
from rtk_sessions.config import Settings
from rtk_sessions.ingest import service
from rtk_sessions.ingest.rtcstats import Dump, DumpError, DumpReader, DumpTooLarge, SkippedLine
from rtk_sessions.ingest.rtcstats_lines import inflate, numbered_lines
from rtk_sessions.ingest.schemas import VALID_EVENTS
from rtk_sessions.kit import cpu
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.errors import BadRequest, NotFound, PayloadTooLarge
from rtk_sessions.quality.repo import meeting_of_peer


@dataclass(frozen=True)
class ImportResult:
    """The ingest counts of the dump's events, and the dump's lines that were skipped."""

    accepted: int
    duplicates: int
    pending: int
    skipped_lines: int
    skipped: tuple[SkippedLine, ...]


def read_dump(data: bytes, peer_id: str, meeting_id: str, max_bytes: int) -> tuple[list[Any], Dump]:
    """The events a dump becomes (its figures included) and the dump read; 400 (not a dump)
    or 413 (too large) with the reason."""
    reader = DumpReader(peer_id, meeting_id)
    try:
        for lineno, raw in numbered_lines(inflate(data, max_bytes)):
            reader.feed(lineno, raw)
        dump = reader.finish()
    except DumpTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from exc
    except DumpError as exc:
        raise BadRequest(f"The rtcstats dump cannot be read: {exc}; nothing was stored") from exc
    events: list[Any] = [*dump.events, *reader.finish_events()]
    if not events:
        raise BadRequest("The rtcstats dump holds no peer connection data; nothing was stored")
    return events, dump


def dump_batch(
    data: bytes, peer_id: str, meeting_id: str, max_bytes: int, now: int
) -> tuple[list[bytes], int, tuple[SkippedLine, ...]]:
    """The dump's events, read and validated (packed for kit/cpu.unpack), and its skipped
    lines: the CPU-heavy part of an import, run in a worker process (kit/cpu.py)."""
    events, dump = read_dump(data, peer_id, meeting_id, max_bytes)
    return cpu.pack(service.check_batch(events, now)), dump.skipped_lines, dump.skipped


async def import_dump(
    db: Database,
    account_id: str,
    app_id: str,
    peer_id: str,
    meeting_id: str | None,
    data: bytes,
    now: int,
    settings: Settings,
) -> ImportResult:
    """Read and validate the whole dump in a worker process, then store every event in one
    write transaction: nothing is written, and no write lock held, while the dump is read."""
    check_ids(account_id=account_id, app_id=app_id)
    if meeting_id is None:
        async with db.read() as conn:
            meeting_id = await _meeting_of(conn, account_id, app_id, peer_id)
    packed, skipped_lines, skipped = await cpu.run(
        cpu.REQUESTS, dump_batch, data, peer_id, meeting_id, settings.max_dump_bytes, now
    )
    valid = await cpu.unpack(VALID_EVENTS, packed)
    async with db.write() as conn:
        counts = await service.accept(
            conn, account_id, app_id, valid, now, settings.session_end_grace_ms
        )
    return ImportResult(counts.accepted, counts.duplicates, counts.pending, skipped_lines, skipped)


async def _meeting_of(conn: AsyncConnection, account_id: str, app_id: str, peer_id: str) -> str:
    """The peer's meeting; a peer not joined yet needs `meeting_id` from the caller."""
    try:
        pk: int | None = await resolve_app(conn, account_id, app_id)
    except NotFound:  # an app without events yet: no peer can be known
        pk = None
    meeting = None if pk is None else await meeting_of_peer(conn, pk, peer_id)
    if meeting is None:
        raise BadRequest(
            f"Peer {peer_id} has not joined any meeting yet: pass ?meeting_id=… (the meeting "
            "it will join) and its telemetry waits, pending, for the join"
        )
    return meeting
