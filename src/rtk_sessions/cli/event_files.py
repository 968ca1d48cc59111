"""`rtk-sessions ingest FILE`: a file of events, checked whole before anything is stored.

Two passes over the file (docs/ingestion.md, Bulk loads). The first validates every event,
a batch at a time, and keeps only the problems, so memory stays bounded however long a
JSON-lines file is; any problem stops the load before the database is touched. The second
reads the file again and stores it batch by batch, each batch one transaction. Positions are
file line numbers (`FILE:LINE`) for JSON lines and `events[i]` for a JSON array.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtk_sessions.config import Settings
from rtk_sessions.ingest import service as ingest_service
from rtk_sessions.ingest.body import BadLine
from rtk_sessions.ingest.schemas import MAX_BATCH_EVENTS
from rtk_sessions.ingest.validation import validate_events
from rtk_sessions.kit import jsontext
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.errors import BadRequest, RtkError

SHOWN_PROBLEMS = 20
_POSITION = re.compile(r"^events\[\d+\]")


@dataclass
class Chunk:
    """Up to one batch of decoded events and where each came from (its file line, or None
    for an element of a JSON array, whose position is its index)."""

    events: list[Any]
    lines: list[int | None]
    first_index: int


@dataclass
class FileCheck:
    events: int = 0
    invalid: int = 0
    problems: list[str] = field(default_factory=list)  # of the first invalid events
    shown: int = 0  # how many invalid events `problems` covers


def _is_array(path: Path) -> bool:
    with path.open("rb") as f:
        while chunk := f.read(4096):
            stripped = chunk.lstrip()
            if stripped:
                return stripped[:1] == b"["
    return False


def read_chunks(path: Path, size: int) -> Iterator[Chunk]:
    """The file's events, `size` at a time: JSON lines streamed (blank lines skipped, a line
    that is not JSON kept as a problem), or a JSON array read whole."""
    if _is_array(path):
        try:
            events = jsontext.decode(path.read_bytes())
        except jsontext.NotJson as exc:
            raise BadRequest(f"{path}: {exc}") from None
        if not isinstance(events, list):
            raise BadRequest(f"{path}: expected a JSON array of events or JSON lines")
        for start in range(0, len(events), size):
            part = events[start : start + size]
            yield Chunk(part, [None] * len(part), start)
        return
    chunk = Chunk([], [], 0)
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                chunk.events.append(jsontext.decode(line))
            except jsontext.NotJson as exc:
                chunk.events.append(BadLine(str(exc)))
            chunk.lines.append(number)
            if len(chunk.events) == size:
                yield chunk
                chunk = Chunk([], [], chunk.first_index + size)
    if chunk.events:
        yield chunk


def _locate(path: Path, chunk: Chunk, error: dict[str, Any]) -> str:
    """`events[i].field: …` as the user can find it: `FILE:LINE: field: …` for JSON lines."""
    message: str = error["message"]
    index = int(error["index"])
    line = chunk.lines[index]
    if line is None:
        return _POSITION.sub(f"events[{chunk.first_index + index}]", message, count=1)
    what = _POSITION.sub("", message, count=1).removeprefix(".").removeprefix(": ")
    return f"{path}:{line}: {what}"


def check_file(path: Path, size: int, now: int, advance: Callable[[int], None]) -> FileCheck:
    """First pass: count the events and collect the first problems; stores nothing."""
    result = FileCheck()
    for chunk in read_chunks(path, size):
        _, errors = validate_events(chunk.events, now)
        result.events += len(chunk.events)
        by_event: dict[int, list[dict[str, Any]]] = {}
        for error in errors:
            by_event.setdefault(error["index"], []).append(error)
        result.invalid += len(by_event)
        for problems in by_event.values():
            if len(result.problems) >= SHOWN_PROBLEMS:
                break
            result.problems += [_locate(path, chunk, e) for e in problems]
            result.shown += 1
        advance(len(chunk.events))
    return result


def _where(chunk: Chunk) -> str:
    last = chunk.lines[-1]
    return (
        f"line {last}"
        if last is not None
        else f"events[{chunk.first_index + len(chunk.lines) - 1}]"
    )


async def store_file(
    db: Database,
    settings: Settings,
    account: str,
    app_id: str,
    path: Path,
    size: int,
    now: int,
    advance: Callable[[int], None],
) -> dict[str, int]:
    """Second pass: store a checked file batch by batch. Should a batch still fail (the file
    changed, the database went away), say exactly what was stored: a re-run stores the rest,
    the stored events counting as duplicates."""
    totals = {"accepted": 0, "duplicates": 0, "pending": 0}
    stored = "nothing"
    for chunk in read_chunks(path, size):
        try:
            valid = ingest_service.check_batch(chunk.events, now)
            async with db.write() as conn:
                result = await ingest_service.accept(
                    conn, account, app_id, valid, now, settings.session_end_grace_ms
                )
        except RtkError as exc:
            raise BadRequest(
                f"{exc.message} (stored: {stored} of {path})", details=exc.details
            ) from exc
        except (Exception, asyncio.CancelledError) as exc:  # cancelled: Ctrl-C
            raise PartialLoad(
                f"stored: {stored} of {path}; run the same command again to store the rest"
            ) from exc
        totals["accepted"] += result.accepted
        totals["duplicates"] += result.duplicates
        totals["pending"] = result.pending
        stored = f"everything up to {_where(chunk)}"
        advance(len(chunk.events))
    return totals


class PartialLoad(Exception):
    """Storing stopped part-way for a reason that is not the file's; the message says what
    is stored."""


def batch_size(requested: int) -> int:
    return max(1, min(requested, MAX_BATCH_EVENTS))
