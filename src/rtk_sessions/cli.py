"""`rtk-sessions`: serve, migrate, tokens, ingest, import-rtcstats, rebuild, demo, pending,
export, worker, purge."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from rtk_sessions.config import Settings, SettingsError

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
token_app = typer.Typer(help="Create and revoke API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")

T = TypeVar("T")
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (env RTK_DATA_DIR).")
]


def _settings(data_dir: Path | None, **overrides: Any) -> Settings:
    try:
        return Settings.from_env(data_dir=data_dir, **overrides)
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Bring the database schema up to date."""
    from rtk_sessions.kit.migrate import upgrade

    settings = _settings(data_dir)
    upgrade(settings.effective_database_url)
    typer.echo("database is up to date")


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Listen address (env RTK_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env RTK_PORT).")] = None,
    demo_if_empty: Annotated[bool, typer.Option(help="Load demo data when no app exists.")] = False,
) -> None:
    """Migrate, then serve the API."""
    import uvicorn

    from rtk_sessions.app import create_app
    from rtk_sessions.kit.migrate import upgrade
    from rtk_sessions.operations import first_run

    settings = _settings(data_dir, host=host, port=port)
    upgrade(settings.effective_database_url)
    if demo_if_empty:
        _run(lambda: first_run(settings))
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # X-Forwarded-For/-Proto only from RTK_TRUSTED_PROXIES (docs/security.md).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
    )


@token_app.command("create")
def token_create(
    account: Annotated[str, typer.Option(help="Account id; created if missing.")],
    permission: Annotated[list[str], typer.Option(help="read, admin or ingest; repeatable.")],
    app_id: Annotated[
        str | None, typer.Option("--app", help="Limit the token to this app.")
    ] = None,
    label: Annotated[str | None, typer.Option(help="A note to recognise the token by.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a token; it is printed once, as the last line."""
    from rtk_sessions.operations import create_token

    settings = _settings(data_dir)
    token = _run(lambda: create_token(settings, account, app_id, permission, label))
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="The token, or its 16-character id.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a token; requests with it get 401 from now on."""
    from rtk_sessions.operations import revoke_token

    _run(lambda: revoke_token(_settings(data_dir), token))
    typer.echo("revoked")


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="Events as JSON lines (NDJSON), or a JSON array.")],
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id; created if missing.")],
    batch_size: Annotated[int, typer.Option(help="Events per transaction (≤ 5000).")] = 2000,
    data_dir: DataDir = None,
) -> None:
    """Load events from a file through the same validation and accounting as the API."""
    from rtk_sessions.operations import ingest_file

    settings = _settings(data_dir)
    totals = _run(lambda: ingest_file(settings, file, account, app_id, batch_size))
    typer.echo(json.dumps(totals))


@app.command("import-rtcstats")
def import_rtcstats(
    file: Annotated[Path, typer.Argument(help="rtcstats dump (.jsonl, plain or gzip).")],
    peer: Annotated[str, typer.Option("--peer", help="The peer id the dump belongs to.")],
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id; created if missing.")],
    meeting: Annotated[
        str | None, typer.Option(help="Meeting id; only needed if the peer has not joined yet.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Import a WebRTC stats dump as a peer's telemetry (device, network, call quality)."""
    from rtk_sessions.operations import import_rtcstats_file

    settings = _settings(data_dir)
    totals = _run(lambda: import_rtcstats_file(settings, file, account, app_id, peer, meeting))
    typer.echo(json.dumps(totals))


@app.command()
def rebuild(data_dir: DataDir = None) -> None:
    """Re-derive every session, participant and placement from the stored raw events."""
    from rtk_sessions.operations import rebuild_all

    meetings = _run(lambda: rebuild_all(_settings(data_dir)))
    typer.echo(f"rebuilt {meetings} meetings")


@app.command()
def demo(
    account: Annotated[str, typer.Option(help="Account id.")] = "demo-account",
    app_id: Annotated[str, typer.Option("--app", help="App id.")] = "demo-app",
    data_dir: DataDir = None,
) -> None:
    """Load a few hundred realistic demo sessions through the ingestion code path."""
    from rtk_sessions.operations import load_demo

    result = _run(lambda: load_demo(_settings(data_dir), account, app_id))
    typer.echo(json.dumps(result))


@app.command()
def pending(
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 100,
    data_dir: DataDir = None,
) -> None:
    """List events that are not placed in a session yet, and why."""
    from rtk_sessions.operations import pending_report

    for line in _run(lambda: pending_report(_settings(data_dir), account, app_id, limit)):
        typer.echo(line)


@app.command()
def export(
    kind: Annotated[str, typer.Argument(help="chat, transcript or summary")],
    session_id: Annotated[str, typer.Argument(help="Session id.")],
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="Transcript format: CSV, JSON, SRT, VTT.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write; default stdout.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Export a session's chat (CSV), transcript or summary, built as the API builds them."""
    from rtk_sessions.exports import EXPORT_KINDS, export_file
    from rtk_sessions.kit.errors import RtkError

    if kind not in EXPORT_KINDS:
        raise typer.BadParameter(f"{kind!r}: use one of {', '.join(EXPORT_KINDS)}")
    settings = _settings(data_dir)
    try:
        if output is None:
            _run(
                lambda: export_file(
                    settings, account, app_id, kind, session_id, fmt, sys.stdout.buffer
                )
            )
        else:
            with output.open("wb") as target:
                name = _run(
                    lambda: export_file(settings, account, app_id, kind, session_id, fmt, target)
                )
            typer.echo(f"wrote {output} ({name})", err=True)
    except RtkError as exc:
        if output is not None:
            output.unlink(missing_ok=True)
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def worker(
    workers: Annotated[int, typer.Option(help="Worker threads.")] = 2,
    data_dir: DataDir = None,
) -> None:
    """Run queued jobs (summaries) and upkeep, for deployments that scale workers apart."""
    from rtk_sessions.exports import work

    settings = _settings(data_dir)
    try:
        _run(lambda: work(settings, workers))
    except KeyboardInterrupt:
        typer.echo("worker stopped", err=True)


@app.command()
def purge(data_dir: DataDir = None) -> None:
    """Delete expired and superseded files now (serve and worker also do this every minute)."""
    from rtk_sessions.exports import purge as purge_now

    files, content = _run(lambda: purge_now(_settings(data_dir)))
    typer.echo(f"deleted {files} files and {content} chat/transcript events")


@app.command()
def openapi() -> None:
    """Print the OpenAPI document."""
    from rtk_sessions.app import openapi_document

    json.dump(openapi_document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def main() -> None:
    from rtk_sessions.kit.private import restrict_umask

    restrict_umask()  # the data directory and everything in it: owner only (docs/security.md)
    app()
