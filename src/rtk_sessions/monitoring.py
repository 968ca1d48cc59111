"""GET /metrics: Prometheus text, with the readings only a scrape takes (docs/operations.md)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from prometheus_client.core import GaugeMetricFamily

from rtk_sessions.ingest.repo import count_all_pending
from rtk_sessions.kit import metrics
from rtk_sessions.kit.errors import Unauthorized
from rtk_sessions.kit.state import AppState

log = logging.getLogger("rtk_sessions.metrics")
READING_TIMEOUT = 1.0  # a slow queue or database leaves its gauge out, never stalls the scrape


async def _queue_depth(state: AppState) -> float:
    return float(await asyncio.to_thread(state.jobs.pending))


async def _pending_events(state: AppState) -> float:
    async with state.db.read() as conn:
        return float(await count_all_pending(conn))


async def readings(state: AppState) -> list[GaugeMetricFamily]:
    """The job queue's depth and the events waiting for a session, each within 1 s."""
    wanted = {
        "rtk_job_queue_depth": ("Jobs waiting in the queue.", _queue_depth),
        "rtk_events_pending": ("Stored events not placed in a session yet.", _pending_events),
    }
    found = []
    for name, (documentation, read) in wanted.items():
        try:
            async with asyncio.timeout(READING_TIMEOUT):
                value = await read(state)
        except Exception as exc:  # left out of this scrape; the others still answer
            log.warning("metrics: %s not read (%s)", name, type(exc).__name__)
            continue
        found.append(metrics.gauge(name, documentation, value))
    return found


def _check_token(request: Request[Any, Any, Any], expected: str) -> None:
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("/metrics needs Authorization: Bearer <RTK_METRICS_TOKEN>")


@get("/metrics", operation_id="Metrics", include_in_schema=False)
async def metrics_endpoint(
    request: Request[Any, Any, Any], rtk: NamedDependency[AppState]
) -> Response[bytes]:
    """Prometheus metrics of this host's processes; a bearer token when RTK_METRICS_TOKEN is set."""
    if rtk.settings.metrics_token:
        _check_token(request, rtk.settings.metrics_token)
    text = await asyncio.to_thread(metrics.exposition, await readings(rtk))
    return Response(text, media_type=metrics.CONTENT_TYPE)
