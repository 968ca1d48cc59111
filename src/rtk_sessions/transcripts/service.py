"""Transcripts: one file per session and format, rebuilt only when the segments changed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.files.repo import Artifact
from rtk_sessions.files.service import (
    FileSpec,
    check_not_expired,
    find_built,
    fingerprint_of,
    publish,
)
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.csvguard import guard_variant
from rtk_sessions.kit.db import Reading
from rtk_sessions.kit.errors import BadRequest, NotFound
from rtk_sessions.kit.state import AppState
from rtk_sessions.sessions.repo import SessionRow
from rtk_sessions.sessions.service import find_session
from rtk_sessions.transcripts import repo
from rtk_sessions.transcripts.formats import (
    EXTENSIONS,
    Segment,
    Speaker,
    parse_format,
    write_transcript,
)
from rtk_sessions.transcripts.repo import SegmentRow


def requested_format(value: str | None) -> str:
    """CSV, JSON, SRT or VTT from `?format=` in any case; 400 listing them otherwise."""
    try:
        return parse_format(value)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def to_segment(row: SegmentRow) -> Segment:
    speaker = Speaker(
        row.peer_id,
        row.user_id,
        row.custom_participant_id,
        row.display_name,
        row.joined_at,
        row.left_at,
    )
    return Segment(speaker, row.text, row.started_at, row.ended_at)


def transcript_fingerprint(session: SessionRow, rows: Sequence[SegmentRow]) -> str:
    """Changes when a segment or what is known of a speaker changes (names, join, leave)."""
    return fingerprint_of(session.started_at, *(repr(r) for r in rows))


async def load_transcript(
    state: AppState, conn: AsyncConnection, app: AppRef, session_id: str, now: int
) -> tuple[SessionRow, list[SegmentRow]]:
    """The session and its final segments; 404 if expired or there are none."""
    session = await find_session(conn, app, session_id)
    return session, await transcript_of(state, conn, app, session, now)


async def transcript_of(
    state: AppState, conn: AsyncConnection, app: AppRef, session: SessionRow, now: int
) -> list[SegmentRow]:
    """The final segments of a session already found; 404 if expired or there are none."""
    check_not_expired(state, session, "transcript", now)
    rows = await repo.final_segments(conn, app.pk, session.id)
    if not rows:
        raise NotFound(f"Session {session.id} has no transcript (no final transcript segments)")
    return rows


async def transcript_export(
    state: AppState, reading: Reading, app: AppRef, session_id: str, fmt: str, now: int
) -> tuple[SessionRow, Artifact]:
    """The session's transcript file in `fmt`, built now if the segments changed; read in
    the caller's one read transaction, which ends before a new file is recorded."""
    session, rows = await load_transcript(state, reading.conn, app, session_id, now)
    filename = f"transcript-{session.id}.{EXTENSIONS[fmt]}"
    guard = fmt == "CSV" and state.settings.csv_formula_guard
    fingerprint = guard_variant(transcript_fingerprint(session, rows), guard)
    spec = FileSpec("transcript", fmt, fingerprint, filename)
    built = await find_built(state, reading.conn, app.pk, session.id, spec)
    if built is None:

        async def write(path: Path) -> None:
            with path.open("w", encoding="utf-8", newline="") as out:
                segments = map(to_segment, rows)
                write_transcript(fmt, segments, session.started_at, out, formula_guard=guard)

        built = await publish(state, app.pk, session.id, spec, write, now, reading.end)
    return session, built
