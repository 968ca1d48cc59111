"""GET /sessions/{session_id}/chat (docs/api.md): a link to the chat CSV."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from rtk_sessions.auth.deps import AppReading, app_reading, public_base_url
from rtk_sessions.chat.service import chat_export
from rtk_sessions.files.service import link_for
from rtk_sessions.kit.http import error_responses
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms, to_iso


class ChatData(msgspec.Struct):
    chat_download_url: str
    chat_download_url_expiry: str


class ChatResponse(msgspec.Struct):
    data: ChatData
    success: bool = True


class ChatController(Controller):
    path = "/sessions/{session_id:str}/chat"
    tags = ["sessions"]
    dependencies = {"reading": Provide(app_reading)}

    @get("/", operation_id="GetSessionChat", responses=error_responses(400, 401, 403, 404, 503))
    async def get_session_chat(
        self,
        request: Request[Any, Any, Any],
        rtk: NamedDependency[AppState],
        reading: NamedDependency[AppReading],
        session_id: FromPath[str],
    ) -> ChatResponse:
        """A link to download the session's chat messages as CSV (built when chat changed)."""
        now = now_ms()
        session, built = await chat_export(rtk, reading, reading.app, session_id, now)
        await reading.end()
        link = await link_for(rtk, session, built.key, public_base_url(request, rtk), now, "chat")
        return ChatResponse(ChatData(link.url, to_iso(link.expires_at_ms)))
