"""GET and POST /sessions/{session_id}/summary (docs/api.md, docs/summaries.md)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from rtk_sessions.auth.deps import AppReading, admin_access, app_reading, public_base_url
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.http import error_responses
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms, to_iso
from rtk_sessions.summaries.service import request_summary, summary_link


class SummaryData(msgspec.Struct):
    sessionId: str
    summaryDownloadUrl: str
    summaryDownloadUrlExpiry: str


class SummaryResponse(msgspec.Struct):
    data: SummaryData
    success: bool = True


class SummaryStatus(msgspec.Struct):
    session_id: str
    status: str


class SummaryStatusResponse(msgspec.Struct):
    data: SummaryStatus
    success: bool = True


class SummaryController(Controller):
    path = "/sessions/{session_id:str}/summary"
    tags = ["sessions"]

    @get(
        "/",
        operation_id="GetSessionSummary",
        responses=error_responses(400, 401, 403, 404, 503),
        dependencies={"reading": Provide(app_reading)},
    )
    async def get_session_summary(
        self,
        request: Request[Any, Any, Any],
        rtk: NamedDependency[AppState],
        reading: NamedDependency[AppReading],
        session_id: FromPath[str],
    ) -> SummaryResponse:
        """A link to the latest summary; 404 says whether it is being generated or failed."""
        now = now_ms()
        base = public_base_url(request, rtk)
        session, link = await summary_link(rtk, reading, reading.app, session_id, base, now)
        return SummaryResponse(SummaryData(session.id, link.url, to_iso(link.expires_at_ms)))

    @post(
        "/",
        operation_id="GenerateSummaryOfTranscripts",
        status_code=200,
        responses=error_responses(400, 401, 403, 404),
        dependencies={"app": Provide(admin_access)},
    )
    async def generate_summary_of_transcripts(
        self,
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
        session_id: FromPath[str],
    ) -> SummaryStatusResponse:
        """Start summarizing the transcript (admin); repeats are idempotent."""
        found, status = await request_summary(rtk, app, session_id, now_ms())
        return SummaryStatusResponse(SummaryStatus(found, status))
