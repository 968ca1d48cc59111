"""`rtk-sessions token create|list|revoke|rtcstats|rtcstats-rotate`."""

from __future__ import annotations

from typing import Annotated

import typer

from rtk_sessions.cli.common import DataDir, data_settings, run, token_app
from rtk_sessions.kit.timeutil import to_iso


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
    from rtk_sessions.cli.operations import create_token

    settings = data_settings(data_dir)
    token = run(lambda: create_token(settings, account, app_id, permission, label))
    typer.echo(token)


@token_app.command("list")
def token_list(
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked tokens.")] = False,
    data_dir: DataDir = None,
) -> None:
    """List tokens: id, account, app, permissions, created, last used (never the secret)."""
    from rtk_sessions.cli.operations import list_tokens

    rows = run(lambda: list_tokens(data_settings(data_dir), revoked))
    table = [["ID", "ACCOUNT", "APP", "PERMISSIONS", "CREATED", "LAST USED", "LABEL"]]
    for t in rows:
        label = t.label or ""
        if t.revoked_at is not None:
            label = f"[revoked {to_iso(t.revoked_at)}] {label}".strip()
        used = to_iso(t.last_used_at) if t.last_used_at is not None else "never"
        table.append(
            [t.id, t.account_id, t.app_id or "*", t.permissions, to_iso(t.created_at), used, label]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[-1]]).rstrip())


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="The token, or its 16-character id.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a token; requests with it get 401 from now on."""
    from rtk_sessions.cli.operations import revoke_token

    run(lambda: revoke_token(data_settings(data_dir), token))
    typer.echo("revoked")


@token_app.command("rtcstats")
def token_rtcstats(
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id; created if missing.")],
    meeting: Annotated[str, typer.Option(help="Meeting id the stream's telemetry belongs to.")],
    peer: Annotated[str, typer.Option(help="Peer id the stream's telemetry belongs to.")],
    user: Annotated[str | None, typer.Option(help="The user's name or id, kept as is.")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
    data_dir: DataDir = None,
) -> None:
    """Print a stream token (an HS256 JWT signed with the app's rtcstats secret) for a live
    rtcstats client: pass it as ?rtcstats-token= or in the path (docs/rtcstats.md)."""
    from rtk_sessions.cli.operations import rtcstats_token

    settings = data_settings(data_dir)
    typer.echo(run(lambda: rtcstats_token(settings, account, app_id, meeting, peer, user, ttl)))


@token_app.command("rtcstats-rotate")
def token_rtcstats_rotate(
    account: Annotated[str, typer.Option(help="Account id.")],
    app_id: Annotated[str, typer.Option("--app", help="App id.")],
    data_dir: DataDir = None,
) -> None:
    """Replace the app's rtcstats signing secret: stream tokens signed before stop working."""
    from rtk_sessions.cli.operations import rotate_rtcstats_secret

    run(lambda: rotate_rtcstats_secret(data_settings(data_dir), account, app_id))
    typer.echo("rotated")
