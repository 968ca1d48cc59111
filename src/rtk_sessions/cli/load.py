"""`rtk-sessions ingest` and `import-rtcstats`: files in, through the API's validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rtk_sessions.cli.common import DataDir, app, data_settings, progress, run


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="Events as JSON lines (NDJSON), or a JSON array.")],
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id; created if missing.")],
    batch_size: Annotated[int, typer.Option(help="Events per transaction (≤ 5000).")] = 2000,
    data_dir: DataDir = None,
) -> None:
    """Load events from a file through the same validation and accounting as the API.

    The whole file is checked first: one invalid event and nothing is stored."""
    from rtk_sessions.cli.operations import ingest_file

    settings = data_settings(data_dir)
    totals = run(lambda: ingest_file(settings, file, account, app_id, batch_size, progress))
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
    from rtk_sessions.cli.operations import import_rtcstats_file

    settings = data_settings(data_dir)
    totals = run(
        lambda: import_rtcstats_file(settings, file, account, app_id, peer, meeting, progress)
    )
    typer.echo(json.dumps(totals))
