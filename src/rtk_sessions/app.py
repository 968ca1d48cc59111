"""The app factory: routes under both prefixes, the one error envelope, background sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin, YamlRenderPlugin
from litestar.static_files import create_static_files_router
from sqlalchemy import text

from rtk_sessions import __version__
from rtk_sessions.chat.routes import ChatController
from rtk_sessions.collector.routes import (
    RtcstatsStreamsController,
    RtcstatsTokensController,
    rtcstats_socket,
)
from rtk_sessions.config import Settings
from rtk_sessions.edge import EdgeCheck
from rtk_sessions.files.routes import download_file, download_file_head
from rtk_sessions.ingest.routes import IngestController
from rtk_sessions.ingest.rtcstats_routes import RtcstatsController
from rtk_sessions.integrations.livekit_routes import receive_livekit_webhook
from rtk_sessions.integrations.realtimekit_routes import realtimekit_webhook
from rtk_sessions.kit import cpu, metrics
from rtk_sessions.kit.errors import RtkError
from rtk_sessions.kit.http import (
    ErrorBody,
    http_error_handler,
    internal_error_handler,
    rtk_error_handler,
)
from rtk_sessions.kit.observe import RequestObserver, TransactionCounter
from rtk_sessions.kit.page_policy import DASHBOARD_POLICY, REFERENCE_POLICY, SameOriginPages
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.monitoring import metrics_endpoint
from rtk_sessions.quality.routes import PeerReportController
from rtk_sessions.sessions.active_routes import ActiveSessionController
from rtk_sessions.sessions.analytics_routes import AnalyticsController
from rtk_sessions.sessions.routes import SessionsController
from rtk_sessions.summaries.jobs import run_summary_pump
from rtk_sessions.summaries.routes import SummaryController
from rtk_sessions.transcripts.routes import TranscriptController
from rtk_sessions.ui.routes import ui_router
from rtk_sessions.upkeep.jobs import build_state
from rtk_sessions.upkeep.maintenance import run_maintenance
from rtk_sessions.upkeep.sweep import run_sweeper
from rtk_sessions.webhooks.jobs import run_pump
from rtk_sessions.webhooks.keys import signing_key
from rtk_sessions.webhooks.routes import (
    WebhookDeliveriesController,
    WebhooksController,
    webhook_public_key,
)

log = logging.getLogger("rtk_sessions")
RTK_PREFIX = "/accounts/{account_id:str}/realtime/kit/{app_id:str}"
# Front-end files vendored into the package (static/README.md), served without authentication.
STATIC_PATH = "/static"
STATIC_DIR = Path(__file__).parent / "static"
# The dashboard's own stylesheet and script (not vendored: ours).
UI_ASSETS_PATH = "/ui/assets"
UI_ASSETS_DIR = Path(__file__).parent / "ui" / "assets"


class Health(msgspec.Struct):
    status: str
    db: str
    jobs: str


async def _queue_ok(state: AppState) -> bool:
    """The queue's storage answers within 1 s, and this process's workers (if any) live."""
    try:
        async with asyncio.timeout(1.0):
            await asyncio.to_thread(state.jobs.pending)
    except Exception:  # unreachable Redis, unreadable SQLite file
        return False
    return state.settings.job_workers <= 0 or state.jobs.running


async def _db_ok(state: AppState) -> bool:
    try:
        async with asyncio.timeout(1.0), state.db.read() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # any failure to answer within 1 s means not ready
        return False
    return True


@get(
    "/healthz",
    operation_id="Health",
    tags=["operations"],
    responses={
        400: ResponseSpec(ErrorBody, description="A query value is not valid text."),
        503: ResponseSpec(Health, description="Not ready: the failing part is named."),
    },
)
async def healthz(rtk: NamedDependency[AppState]) -> Response[Health]:
    """Readiness: the database answers within 1 s and background work is running."""
    db_ok = await _db_ok(rtk)
    jobs_ok = all(rtk.background_ok.values()) and await _queue_ok(rtk)
    health = Health(
        "ok" if db_ok and jobs_ok else "unavailable",
        "ok" if db_ok else "failing",
        "ok" if jobs_ok else "failing",
    )
    return Response(health, status_code=200 if db_ok and jobs_ok else 503)


@get("/openapi.json", operation_id="OpenAPI", include_in_schema=False)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The generated OpenAPI document."""
    schema: dict[str, Any] = request.app.openapi_schema.to_schema()
    return schema


def create_app(settings: Settings, *, background: bool = True) -> Litestar:
    """The ASGI app; `background` runs the sweep, the job workers and the maintenance loop."""
    if background:
        metrics.configure(settings.metrics_dir, owner=True)
    state = build_state(settings)
    signing_key(settings.data_dir)  # made on first start, so every process shares one

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        tasks = []
        if background:
            await asyncio.to_thread(cpu.warm, cpu.REQUESTS)  # ready means ready to read bodies
            await asyncio.to_thread(state.jobs.start, settings.job_workers)
            tasks = [
                asyncio.create_task(run_sweeper(state)),
                asyncio.create_task(run_maintenance(state, now_ms())),
                asyncio.create_task(run_pump(state)),
                asyncio.create_task(run_summary_pump(state)),
            ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.to_thread(state.jobs.stop)
            await asyncio.to_thread(cpu.shutdown)
            await state.db.dispose()

    rtk_routes = [
        ActiveSessionController,
        AnalyticsController,
        PeerReportController,
        SessionsController,
        ChatController,
        TranscriptController,
        SummaryController,
        WebhooksController,
        WebhookDeliveriesController,
    ]
    app = Litestar(
        route_handlers=[
            Router(path="/client/v4" + RTK_PREFIX, route_handlers=rtk_routes),
            # The same routes without /client/v4, for base_url="http://host:port"; documented once.
            Router(path=RTK_PREFIX, route_handlers=rtk_routes, include_in_schema=False),
            IngestController,
            RtcstatsController,
            RtcstatsStreamsController,
            RtcstatsTokensController,
            rtcstats_socket,
            receive_livekit_webhook,
            realtimekit_webhook,
            webhook_public_key,
            download_file,
            download_file_head,
            healthz,
            metrics_endpoint,
            openapi_json,
            create_static_files_router(
                path=STATIC_PATH, directories=[STATIC_DIR], include_in_schema=False
            ),
            create_static_files_router(
                path=UI_ASSETS_PATH, directories=[UI_ASSETS_DIR], include_in_schema=False
            ),
            ui_router,
        ],
        dependencies={"rtk": Provide(lambda: state, use_cache=True, sync_to_thread=False)},
        exception_handlers={
            RtkError: rtk_error_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
        },
        lifespan=[lifespan],
        middleware=[
            EdgeCheck(),
            SameOriginPages([("/docs", REFERENCE_POLICY), ("/ui", DASHBOARD_POLICY)]),
        ],
        openapi_config=OpenAPIConfig(
            title="rtk-sessions",
            version=__version__,
            path="/docs",
            # Only viewers whose files are served from here (docs/api.md, "The reference").
            render_plugins=[
                RedocRenderPlugin(
                    js_url=f"{STATIC_PATH}/redoc/redoc.standalone.js",
                    google_fonts=False,
                    favicon="<link rel='icon' href='data:,'>",  # not Litestar's, from a CDN
                    path=["/", "/redoc"],
                ),
                JsonRenderPlugin(),
                YamlRenderPlugin(),
            ],
        ),
        request_max_body_size=None,
        logging_config=None,  # kit/logging.py configures every logger, once per process
    )
    # Outermost, so unmatched routes get a request id, an access line and a count too.
    app.asgi_handler = RequestObserver(app.asgi_handler)
    if settings.test_count_transactions:
        app.asgi_handler = TransactionCounter(app.asgi_handler)
    return app


def app_of_serve_process() -> Litestar:
    """The app of one of the processes of `serve --workers N` (a uvicorn factory): settings
    from the environment, where `serve` put its flags; metrics in the directory all of them
    share, whose stale files `serve` itself removed before starting them."""
    from rtk_sessions.kit.logging import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    metrics.configure(settings.metrics_dir, owner=False)
    return create_app(settings)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, from an app whose files live in a throwaway directory."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch), database_url="sqlite+aiosqlite:///:memory:")
        document: dict[str, Any] = create_app(settings, background=False).openapi_schema.to_schema()
    return document
