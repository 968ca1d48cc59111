"""`rtk-sessions export`: a session's chat, transcript or summary, as the API builds it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rtk_sessions.cli.common import DataDir, UserError, app, data_settings, progress, run


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
    from rtk_sessions.cli.exports import EXPORT_KINDS, export_file

    if kind not in EXPORT_KINDS:
        raise UserError(f"cannot export {kind!r}: use one of {', '.join(EXPORT_KINDS)}")
    settings = data_settings(data_dir)
    if output is None:
        with progress(f"exporting the {kind}", None):
            run(
                lambda: export_file(
                    settings, account, app_id, kind, session_id, fmt, sys.stdout.buffer
                )
            )
        return
    try:
        with output.open("wb") as target, progress(f"exporting the {kind}", None):
            name = run(
                lambda: export_file(settings, account, app_id, kind, session_id, fmt, target)
            )
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    typer.echo(f"wrote {output} ({name})", err=True)
