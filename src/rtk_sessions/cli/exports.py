"""Operator commands for files: export and purge, through the API's services."""

from __future__ import annotations

import asyncio
from typing import BinaryIO

from rtk_sessions.auth import service as auth_service
from rtk_sessions.chat.service import chat_export
from rtk_sessions.cli.operations import migrate
from rtk_sessions.config import Settings
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.summaries import service as summaries
from rtk_sessions.summaries.repo import PROCESSING
from rtk_sessions.transcripts.service import requested_format, transcript_export
from rtk_sessions.upkeep.jobs import build_state
from rtk_sessions.upkeep.maintenance import purge_once

EXPORT_KINDS = ("chat", "transcript", "summary")


async def open_state(settings: Settings) -> AppState:
    await migrate(settings)
    return build_state(settings)


async def _key_of(state: AppState, app: AppRef, kind: str, session_id: str, fmt: str | None) -> str:
    now = now_ms()
    summary = kind == "summary"
    if summary and (await summaries.request_summary(state, app, session_id, now))[1] == PROCESSING:
        await summaries.run_summary(state, app, session_id)  # no worker needed here
    async with state.db.reading() as reading:
        if kind == "chat":
            return (await chat_export(state, reading, app, session_id, now))[1].key
        if kind == "transcript":
            fmt = requested_format(fmt)
            return (await transcript_export(state, reading, app, session_id, fmt, now))[1].key
        return (await summaries.ready_summary(state, reading.conn, app, session_id, now))[1]


async def export_file(
    settings: Settings,
    account: str,
    app_id: str,
    kind: str,
    session_id: str,
    fmt: str | None,
    target: BinaryIO,
) -> str:
    """Write a session's chat, transcript or summary to `target`; returns the file name."""
    state = await open_state(settings)
    try:
        async with state.db.read() as conn:
            app = AppRef(await auth_service.resolve_app(conn, account, app_id), app_id)
        key = await _key_of(state, app, kind, session_id, fmt)
        await asyncio.to_thread(state.blobs.copy_to, key, target)
        return key.rsplit("/", 1)[-1]
    finally:
        await state.db.dispose()


async def purge(settings: Settings) -> tuple[int, int]:
    state = await open_state(settings)
    try:
        return await purge_once(state)
    finally:
        await state.db.dispose()
