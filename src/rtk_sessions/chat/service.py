"""Chat export: one CSV per session, rebuilt only when the session's chat changed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.chat import repo
from rtk_sessions.chat.csv_export import ChatRow, write_chat_csv
from rtk_sessions.files.repo import Artifact
from rtk_sessions.files.service import (
    FileSpec,
    check_not_expired,
    find_built,
    fingerprint_of,
    publish,
)
from rtk_sessions.kit.aio import drain_in_thread
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.csvguard import guard_variant
from rtk_sessions.kit.db import Reading
from rtk_sessions.kit.errors import NotFound
from rtk_sessions.kit.state import AppState
from rtk_sessions.sessions.repo import SessionRow
from rtk_sessions.sessions.service import find_session


class ChatBody(msgspec.Struct):
    """The fields of a stored (already validated) `chat.message` the export shows."""

    payload: str
    payload_type: str = "TEXT_MESSAGE"
    pinned: bool = False
    is_edited: bool = False


_BODY = msgspec.json.Decoder(ChatBody)  # typed: skips every other field, about 2x a dict


def chat_row(row: Any, session: SessionRow) -> ChatRow:
    body = _BODY.decode(row.body)
    return ChatRow(
        message_id=row.message_id,
        sender_peer_id=row.sender,
        session_id=session.id,
        meeting_id=session.meeting_id,
        display_name=row.display_name,
        pinned=body.pinned,
        is_edited=body.is_edited,
        payload_type=body.payload_type,
        payload=body.payload,
        created_at_ms=int(row.created_at),
    )


async def _write_csv(
    state: AppState, conn: AsyncConnection, app_pk: int, session: SessionRow, path: Path
) -> None:
    def consume(rows: Iterator[Any]) -> int:
        with path.open("w", encoding="utf-8", newline="") as out:
            return write_chat_csv(
                (chat_row(r, session) for r in rows),
                out,
                formula_guard=state.settings.csv_formula_guard,
            )

    batches = repo.stream_messages(conn, state.db.dialect, app_pk, session.id)
    await drain_in_thread(batches, consume)


async def chat_export(
    state: AppState, reading: Reading, app: AppRef, session_id: str, now: int
) -> tuple[SessionRow, Artifact]:
    """The session's chat CSV, built now if its chat changed since the last build: everything,
    the build's rows included, is read in the caller's one read transaction, which ends
    before the new file is recorded."""
    conn = reading.conn
    session = await find_session(conn, app, session_id)
    check_not_expired(state, session, "chat", now)
    figures = await repo.chat_state(conn, app.pk, session.id)
    if figures[0] == 0:
        raise NotFound(f"Session {session.id} has no chat messages")
    fingerprint = guard_variant(fingerprint_of(*figures), state.settings.csv_formula_guard)
    spec = FileSpec("chat", "csv", fingerprint, f"chat-{session.id}.csv")
    built = await find_built(state, conn, app.pk, session.id, spec)
    if built is None:

        async def write(path: Path) -> None:
            await _write_csv(state, conn, app.pk, session, path)

        built = await publish(state, app.pk, session.id, spec, write, now, reading.end)
    return session, built


async def chat_messages(
    dialect: str, conn: AsyncConnection, app_pk: int, session: SessionRow, limit: int
) -> tuple[list[ChatRow], bool]:
    """The session's first `limit` messages in send order, as the export has them, and
    whether there are more (the dashboard shows a page and offers the CSV for the rest)."""
    async with aclosing(
        repo.stream_messages(conn, dialect, app_pk, session.id, limit + 1)
    ) as parts:
        async for part in parts:
            return [chat_row(r, session) for r in part[:limit]], len(part) > limit
    return [], False
