"""`rtk-sessions import realtimekit`: another platform's history into an app
(docs/integrations.md, "History import")."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated
from urllib.parse import urlsplit

import typer

from rtk_sessions.cli.common import DataDir, UserError, app, data_settings, progress, run
from rtk_sessions.kit.timeutil import parse_query_time_ms

import_app = typer.Typer(help="Import the history of another platform.", no_args_is_help=True)
app.add_typer(import_app, name="import")

TOKEN_ENV = "CLOUDFLARE_API_TOKEN"


def _time(value: str, option: str) -> int:
    found = parse_query_time_ms(value)
    if found is None:
        raise UserError(
            f"{option} is not a date or time (got {value[:60]!r}); use e.g. 2026-01-01 or "
            "2026-01-01T09:00:00Z"
        )
    return found


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError("--base-url must be an http(s) URL such as http://127.0.0.1:8787/client/v4")
    if parts.username or parts.password:
        raise UserError("--base-url must not carry a user name or password; the token is read "
                        f"from {TOKEN_ENV}")  # fmt: skip
    return value.rstrip("/")


@import_app.command("realtimekit")
def realtimekit(
    account: Annotated[str, typer.Option(help="Account id here; created if missing.")],
    app_id: Annotated[str, typer.Option("--app", help="App id here; created if missing.")],
    from_account: Annotated[str, typer.Option(help="The Cloudflare account id to read.")],
    from_app: Annotated[str, typer.Option(help="The RealtimeKit app id to read.")],
    since: Annotated[str, typer.Option(help="Sessions started at or after (date or time).")],
    until: Annotated[
        str | None, typer.Option(help="Sessions started before (date or time) [no limit].")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="The API to read [Cloudflare's]; another rtk-sessions: .../client/v4"),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Sessions read at once (1-32).")] = 4,
    data_dir: DataDir = None,
) -> None:
    """Import a RealtimeKit app's sessions, participants, chat, transcripts, summaries and
    peer reports, keeping their ids. The API token is read from CLOUDFLARE_API_TOKEN.

    Resumable: a second run reads only sessions that are new, changed or were LIVE."""
    from rtk_sessions.cli.exports import open_state
    from rtk_sessions.integrations.history_import import (
        ImportAborted,
        ImportRequest,
        import_realtimekit,
    )

    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise UserError(f"set {TOKEN_ENV} to an API token that can read the RealtimeKit app")
    if not 1 <= concurrency <= 32:
        raise UserError(f"--concurrency must be from 1 to 32 (got {concurrency})")
    since_ms = _time(since, "--since")
    until_ms = None if until is None else _time(until, "--until")
    if until_ms is not None and until_ms <= since_ms:
        raise UserError("--until must be later than --since")
    req = ImportRequest(
        account=account,
        app=app_id,
        from_account=from_account,
        from_app=from_app,
        since_ms=since_ms,
        until_ms=until_ms,
        base_url=None if base_url is None else _base_url(base_url),
        token=token,
        concurrency=concurrency,
    )
    settings = data_settings(data_dir)

    async def go() -> dict[str, object]:
        state = await open_state(settings)
        try:
            totals = await import_realtimekit(state, req, progress)
        finally:
            await state.db.dispose()
        for session_id, reason in sorted(totals.failed.items()):
            typer.echo(f"failed: session {session_id}: {reason}", err=True)
        return totals.as_dict()

    try:
        counts = run(go)
    except ImportAborted as exc:
        if exc.user_error:
            raise UserError(exc.message) from None
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    typer.echo(
        f"imported {counts['imported']} sessions, skipped {counts['skipped']} unchanged, "
        f"failed {counts['failed']}",
        err=True,
    )
    typer.echo(json.dumps(counts))
    if counts["failed"]:
        sys.exit(1)
