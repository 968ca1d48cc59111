"""`rtk-sessions demo`: realistic demo sessions."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from rtk_sessions.cli.common import DataDir, app, data_settings, progress, run


@app.command()
def demo(
    account: Annotated[str, typer.Option(help="Account id.")] = "demo-account",
    app_id: Annotated[str, typer.Option("--app", help="App id.")] = "demo-app",
    data_dir: DataDir = None,
) -> None:
    """Load a few hundred realistic demo sessions through the ingestion code path."""
    from rtk_sessions.cli.operations import load_demo

    settings = data_settings(data_dir)
    result = run(lambda: load_demo(settings, account, app_id, progress))
    typer.echo(json.dumps(result))
