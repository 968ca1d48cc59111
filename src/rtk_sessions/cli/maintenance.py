"""Upkeep by hand: `migrate`, `rebuild`, `pending`, `purge`."""

from __future__ import annotations

from typing import Annotated

import typer

from rtk_sessions.cli.common import DataDir, app, data_settings, progress, run


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Bring the database schema up to date."""
    from rtk_sessions.cli.operations import migrate as migrate_now

    settings = data_settings(data_dir)
    run(lambda: migrate_now(settings))
    typer.echo("database is up to date")


@app.command()
def rebuild(data_dir: DataDir = None) -> None:
    """Re-derive every session, participant and placement from the stored raw events."""
    from rtk_sessions.cli.operations import rebuild_all

    settings = data_settings(data_dir)
    meetings = run(lambda: rebuild_all(settings, progress))
    typer.echo(f"rebuilt {meetings} meetings")


@app.command()
def pending(
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 100,
    data_dir: DataDir = None,
) -> None:
    """List events that are not placed in a session yet, and why."""
    from rtk_sessions.cli.operations import pending_report

    settings = data_settings(data_dir)
    for line in run(lambda: pending_report(settings, account, app_id, limit)):
        typer.echo(line)


@app.command()
def purge(data_dir: DataDir = None) -> None:
    """Delete expired and superseded files now (serve and worker also do this every minute)."""
    from rtk_sessions.cli.exports import purge as purge_now

    settings = data_settings(data_dir)
    with progress("purging", None):
        files, content = run(lambda: purge_now(settings))
    typer.echo(f"deleted {files} files and {content} chat/transcript events")
