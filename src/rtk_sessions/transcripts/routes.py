"""GET /sessions/{session_id}/transcript (docs/api.md): a link to the transcript file."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, Parameter

from rtk_sessions.auth.deps import AppReading, app_reading, public_base_url
from rtk_sessions.files.service import link_for
from rtk_sessions.kit.http import error_responses
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms, to_iso
from rtk_sessions.transcripts.service import requested_format, transcript_export


class TranscriptData(msgspec.Struct):
    sessionId: str
    transcript_download_url: str
    transcript_download_url_expiry: str


class TranscriptResponse(msgspec.Struct):
    data: TranscriptData
    success: bool = True


class TranscriptController(Controller):
    path = "/sessions/{session_id:str}/transcript"
    tags = ["sessions"]
    dependencies = {"reading": Provide(app_reading)}

    @get(
        "/",
        operation_id="GetSessionTranscripts",
        responses=error_responses(400, 401, 403, 404, 503),
    )
    async def get_session_transcripts(
        self,
        request: Request[Any, Any, Any],
        rtk: NamedDependency[AppState],
        reading: NamedDependency[AppReading],
        session_id: FromPath[str],
        format: Annotated[
            str | None, Parameter(required=False, description="CSV (default), JSON, SRT, VTT")
        ] = None,
    ) -> TranscriptResponse:
        """A link to download the session's transcript in CSV, JSON, SRT or WebVTT."""
        fmt = requested_format(format)
        now = now_ms()
        session, built = await transcript_export(rtk, reading, reading.app, session_id, fmt, now)
        await reading.end()
        base = public_base_url(request, rtk)
        link = await link_for(rtk, session, built.key, base, now, "transcript")
        return TranscriptResponse(TranscriptData(session.id, link.url, to_iso(link.expires_at_ms)))
