"""Ingestion routes: `POST .../events` and `GET .../pending` (docs/events.md)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, Parameter
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.auth.deps import ingest_reading, require
from rtk_sessions.ingest import service
from rtk_sessions.ingest.schemas import MAX_BATCH_BYTES, IngestCounts, IngestResponse
from rtk_sessions.kit.http import error_responses, read_body_limited
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms, to_iso
from rtk_sessions.sessions.queries import MAX_PER_PAGE, whole_number


class PendingOut(msgspec.Struct):
    id: str
    type: str
    meeting_id: str
    peer_id: str | None
    occurred_at: str
    received_at: str
    reason: str
    orphaned: bool


class PendingData(msgspec.Struct):
    events: list[PendingOut]
    total_count: int


class PendingResponse(msgspec.Struct):
    data: PendingData
    success: bool = True


def _pending_out(r: service.PendingEvent) -> PendingOut:
    return PendingOut(
        r.id,
        r.type,
        r.meeting_id,
        r.peer_id,
        to_iso(r.occurred_at),
        to_iso(r.received_at),
        r.reason,
        r.orphaned,
    )


class IngestController(Controller):
    path = "/ingest/v1/accounts/{account_id:str}/apps/{app_id:str}"
    tags = ["ingest"]

    @post(
        "/events",
        operation_id="IngestEvents",
        status_code=200,
        responses=error_responses(400, 401, 403, 413, 415),
    )
    async def ingest_events(
        self,
        request: Request[Any, Any, Any],
        rtk: NamedDependency[AppState],
        account_id: FromPath[str],
        app_id: FromPath[str],
    ) -> IngestResponse:
        """Ingest a batch of events: all or nothing, durable before 200, idempotent by id."""
        now = now_ms()
        await require(rtk, request, account_id, app_id, "ingest")
        body = await read_body_limited(request, MAX_BATCH_BYTES, "The request body")
        headers = request.headers
        valid = await service.read_valid_batch(
            body, headers.get("content-type"), headers.get("content-encoding"), now
        )
        result = await service.accept_batch(rtk, account_id, app_id, valid, now)
        return IngestResponse(IngestCounts(result.accepted, result.duplicates, result.pending))

    @get(
        "/pending",
        operation_id="ListPendingEvents",
        responses=error_responses(400, 401, 403),
        dependencies={"conn": Provide(ingest_reading)},
    )
    async def list_pending(
        self,
        rtk: NamedDependency[AppState],
        conn: NamedDependency[AsyncConnection],
        account_id: FromPath[str],
        app_id: FromPath[str],
        limit: Annotated[str | None, Parameter(description="1–100, default 100")] = None,
        offset: Annotated[str | None, Parameter(description="≥ 0, default 0")] = None,
    ) -> PendingResponse:
        """Events not placed in a session yet, with the reason each is waiting."""
        now = now_ms()
        page = {k: v for k, v in {"limit": limit, "offset": offset}.items() if v is not None}
        rows, total = await service.list_pending(
            conn,
            account_id,
            app_id,
            now,
            rtk.settings.pending_max_age_ms,
            whole_number(page, "limit", MAX_PER_PAGE, 1, MAX_PER_PAGE),
            whole_number(page, "offset", 0, 0, None),
        )
        return PendingResponse(PendingData([_pending_out(r) for r in rows], total))
