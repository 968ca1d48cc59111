"""Operator commands for files and jobs: export, worker, purge, through the API's services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import BinaryIO

from rtk_sessions.auth import service as auth_service
from rtk_sessions.chat.service import chat_export
from rtk_sessions.config import Settings
from rtk_sessions.kit import cpu
from rtk_sessions.kit.migrate import upgrade_async
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.maintenance import purge_once, run_maintenance
from rtk_sessions.runtime import WORK, build_state
from rtk_sessions.sessions.derivation import AppRef
from rtk_sessions.summaries import service as summaries
from rtk_sessions.summaries.repo import PROCESSING
from rtk_sessions.transcripts.service import requested_format, transcript_export

EXPORT_KINDS = ("chat", "transcript", "summary")


async def _state(settings: Settings) -> AppState:
    await upgrade_async(settings.effective_database_url)
    return build_state(settings)


async def _key_of(state: AppState, app: AppRef, kind: str, session_id: str, fmt: str | None) -> str:
    now = now_ms()
    if kind == "chat":
        return (await chat_export(state, app, session_id, now))[1].key
    if kind == "transcript":
        return (await transcript_export(state, app, session_id, requested_format(fmt), now))[1].key
    if (await summaries.request_summary(state, app, session_id, now))[1] == PROCESSING:
        await summaries.run_summary(state, app, session_id)  # no worker needed for an operator
    return (await summaries.ready_summary(state, app, session_id, now))[1]


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
    state = await _state(settings)
    try:
        async with state.db.read() as conn:
            app = AppRef(await auth_service.resolve_app(conn, account, app_id), app_id)
        key = await _key_of(state, app, kind, session_id, fmt)
        await asyncio.to_thread(state.blobs.copy_to, key, target)
        return key.rsplit("/", 1)[-1]
    finally:
        await state.db.dispose()


async def purge(settings: Settings) -> tuple[int, int]:
    state = await _state(settings)
    try:
        return await purge_once(state)
    finally:
        await state.db.dispose()


async def work(settings: Settings, workers: int) -> None:
    """Run jobs and the maintenance loop until cancelled (Ctrl-C)."""
    logging.basicConfig(level=settings.log_level.upper())
    state = await _state(settings)
    cpu.configure(requests=settings.cpu_workers, jobs=workers, preload=WORK)
    await asyncio.to_thread(state.jobs.start, workers)
    try:
        await run_maintenance(state, now_ms())
    finally:
        await asyncio.to_thread(state.jobs.stop)
        await state.db.dispose()
        with contextlib.suppress(Exception):
            state.jobs.huey.storage.close()
