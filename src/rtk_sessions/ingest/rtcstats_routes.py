"""POST …/peers/{peer_id}/rtcstats: a WebRTC stats dump becomes the peer's telemetry."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from rtk_sessions.auth.deps import require
from rtk_sessions.ingest.routes import IngestCounts, IngestResponse
from rtk_sessions.ingest.rtcstats_import import import_dump
from rtk_sessions.kit.http import error_responses, read_body_limited
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.quality.service import enqueue_reports


class RtcstatsController(Controller):
    path = "/ingest/v1/accounts/{account_id:str}/apps/{app_id:str}/peers/{peer_id:str}"
    tags = ["ingest"]

    @post(
        "/rtcstats",
        operation_id="ImportRtcstats",
        status_code=200,
        responses=error_responses(400, 401, 403, 413),
    )
    async def import_rtcstats(
        self,
        request: Request[Any, Any, Any],
        rtk: NamedDependency[AppState],
        account_id: FromPath[str],
        app_id: FromPath[str],
        peer_id: FromPath[str],
        meeting_id: Annotated[
            str | None,
            Parameter(required=False, description="needed only when the peer has not joined yet"),
        ] = None,
    ) -> IngestResponse:
        """Import an rtcstats dump (plain or gzip) as the peer's telemetry: all or nothing."""
        now = now_ms()
        await require(rtk, request, account_id, app_id, "ingest")
        data = await read_body_limited(request, rtk.settings.max_dump_bytes, "The rtcstats dump")
        result = await import_dump(
            rtk.db, account_id, app_id, peer_id, meeting_id, data, now, rtk.settings
        )
        await enqueue_reports(rtk, account_id, app_id, [peer_id])
        return IngestResponse(IngestCounts(result.accepted, result.duplicates, result.pending))
