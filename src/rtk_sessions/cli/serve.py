"""`rtk-sessions serve` and `openapi`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
from typing import Annotated, Any

import typer

from rtk_sessions.cli.common import (
    DataDir,
    UserError,
    app,
    data_settings,
    progress,
    run,
    where,
)
from rtk_sessions.config import Settings

log = logging.getLogger("rtk_sessions")

# Open requests get this long to finish once serve is asked to stop; then the job workers
# get kit.jobs.STOP_GRACE. Together well inside the 10 s a process manager waits.
HTTP_STOP_GRACE = 3


def _bindable(host: str, port: int) -> bool:
    """Whether a listener could bind host:port now (as uvicorn does, with SO_REUSEADDR)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError:
        return False
    return True


def check_port(host: str, port: int) -> None:
    """Say which port to use instead before anything else happens (no token, no banner)."""
    if _bindable(host, port):
        return
    free = next((p for p in range(port + 1, port + 50) if _bindable(host, p)), None)
    instead = f": RTK_PORT={free} make run, or rtk-sessions serve --port {free}" if free else ""
    raise UserError(f"port {port} is busy{instead}")


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Listen address (env RTK_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env RTK_PORT).")] = None,
    demo_if_empty: Annotated[
        bool, typer.Option(help="Load demo data when no app exists; print the demo token.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="API processes sharing the port (uvicorn workers); each runs RTK_JOB_WORKERS "
            "job threads and RTK_CPU_WORKERS processes of its own (docs/operations.md).",
        ),
    ] = 1,
) -> None:
    """Migrate, then serve the API.

    Stops on SIGINT or SIGTERM within 10 s; a job still running then is put back in the
    queue (docs/jobs.md)."""
    import uvicorn

    from rtk_sessions.app import create_app
    from rtk_sessions.cli.operations import first_run, migrate
    from rtk_sessions.kit.jobs import exit_now_if_jobs_linger

    settings = data_settings(data_dir, announce=False, host=host, port=port)
    check_port(settings.host, settings.port)
    logs = _uvicorn_logging(settings)
    log.info("database: %s", where())
    run(lambda: migrate(settings))
    if demo_if_empty:
        typer.echo(run(lambda: first_run(settings, progress)))
    _warn_if_links_are_per_host(settings)
    app: Any = create_app(settings) if workers == 1 else _prepare_processes(settings)
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT, after uvicorn stopped gracefully
        uvicorn.run(
            app,
            factory=workers > 1,
            workers=workers,
            host=settings.host,
            port=settings.port,
            timeout_graceful_shutdown=HTTP_STOP_GRACE,
            # A larger WebSocket message is refused (1009) before it is buffered whole.
            ws_max_size=settings.rtcstats_max_frame_bytes,
            # X-Forwarded-For/-Proto only from RTK_TRUSTED_PROXIES (docs/security.md).
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=settings.trusted_proxies or None,
            **logs,
        )
    exit_now_if_jobs_linger()


def _prepare_processes(settings: Settings) -> str:
    """For `--workers N`: the processes uvicorn starts read their settings from the
    environment, so the flags go there; they keep their metrics in one directory (default
    DATA_DIR/metrics), from which files of processes gone are removed now. Returns the app
    factory's import path."""
    from rtk_sessions.kit import metrics

    os.environ.update(
        RTK_DATA_DIR=str(settings.data_dir),
        RTK_HOST=settings.host,
        RTK_PORT=str(settings.port),
        RTK_METRICS_DIR=settings.metrics_dir or str(settings.data_dir / "metrics"),
    )
    metrics.configure(os.environ["RTK_METRICS_DIR"], owner=True)
    if not settings.rate_limit_storage:
        log.warning(
            "rate limits are counted by each process alone, so every budget is allowed once "
            "per process; RTK_RATE_LIMIT_STORAGE=redis://... makes it one budget"
        )
    return "rtk_sessions.app:app_of_serve_process"


def _warn_if_links_are_per_host(settings: Settings) -> None:
    """On PostgreSQL, API processes may run on several hosts: local files, and the link key
    generated in the data directory, then differ per host (docs/operations.md)."""
    on_postgres = settings.database_url.startswith("postgresql")
    if on_postgres and not settings.blob_url and not settings.signing_secret:
        log.warning(
            "files and the key signing their links are kept in this host's data directory: "
            "API processes on other hosts need RTK_BLOB_URL=s3://... or this directory, "
            "and RTK_SIGNING_SECRET set to one value everywhere"
        )


def _uvicorn_logging(settings: Settings) -> dict[str, Any]:
    """Configure this process's logs, and uvicorn's the same way. uvicorn's access line is
    replaced by ours (kit/observe.py): it carries the request id and redacts signed links."""
    from rtk_sessions.kit.logging import configure_logging

    config = configure_logging(settings.log_format, settings.log_level)
    return {"log_config": config, "log_level": settings.log_level, "access_log": False}


@app.command()
def openapi() -> None:
    """Print the OpenAPI document."""
    from rtk_sessions.app import openapi_document

    json.dump(openapi_document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
