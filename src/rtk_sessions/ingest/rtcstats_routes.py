"""POST …/peers/{peer_id}/rtcstats: a WebRTC stats dump becomes the peer's telemetry."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from rtk_sessions.auth.deps import require
from rtk_sessions.ingest.rtcstats_import import import_dump
from rtk_sessions.kit.http import error_responses, read_body_limited
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.quality.service import enqueue_reports


class SkippedLineOut(msgspec.Struct):
    line: int
    reason: str


class ImportCounts(msgspec.Struct):
    """The ingest counts, plus the dump's lines that could not be used (docs/rtcstats.md)."""

    accepted: int
    duplicates: int
    pending: int
    skipped_lines: int
    skipped: list[SkippedLineOut]


class ImportResponse(msgspec.Struct):
    data: ImportCounts
    success: bool = True


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
    ) -> ImportResponse:
        """Import an rtcstats dump (plain or gzip) as the peer's telemetry. Lines that cannot
        be used are skipped and reported; data that is not a dump stores nothing."""
        now = now_ms()
        await require(rtk, request, account_id, app_id, "ingest")
        data = await read_body_limited(request, rtk.settings.max_dump_bytes, "The rtcstats dump")
        result = await import_dump(
            rtk.db, account_id, app_id, peer_id, meeting_id, data, now, rtk.settings
        )
        await enqueue_reports(rtk, account_id, app_id, [peer_id])
        skipped = [SkippedLineOut(s.line, s.reason) for s in result.skipped]
        counts = (result.accepted, result.duplicates, result.pending, result.skipped_lines)
        return ImportResponse(ImportCounts(*counts, skipped))
