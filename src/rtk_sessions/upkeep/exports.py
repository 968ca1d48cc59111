"""Exports the server makes by itself: an ended session's chat and transcript, when a webhook
announces them (`meeting.chatSynced`, `meeting.transcript`; docs/webhooks.md). Built exactly
as GET …/chat and GET …/transcript build them, and reused by those routes."""

from __future__ import annotations

from rtk_sessions.chat.service import chat_export
from rtk_sessions.files.service import expiry_of
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.errors import NotFound
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.transcripts.service import transcript_export

TRANSCRIPT_FORMAT = "CSV"  # RealtimeKit's transcript webhook links a CSV


async def export_for_webhook(
    state: AppState, app: AppRef, kind: str, session_id: str
) -> tuple[str, int | None] | None:
    """The file's key and expiry; None when the session has no chat (or transcript), is gone,
    or its files expired."""
    now = now_ms()
    async with state.db.reading() as reading:
        try:
            if kind == "chat":
                session, built = await chat_export(state, reading, app, session_id, now)
            else:
                session, built = await transcript_export(
                    state, reading, app, session_id, TRANSCRIPT_FORMAT, now
                )
        except NotFound:
            return None
    return built.key, expiry_of(state, session, kind)
