"""`rtk-sessions app set|set-realtimekit|set-livekit|list`: an app's settings and where its
webhooks come from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rtk_sessions.cli.common import DataDir, UserError, app, data_settings, run
from rtk_sessions.config import Settings

app_app = typer.Typer(help="Set up apps: their settings, and RealtimeKit or LiveKit webhooks in.",
                      no_args_is_help=True)  # fmt: skip
app.add_typer(app_app, name="app")

Account = Annotated[str, typer.Option("--account", help="Account id; created if missing.")]
AppId = Annotated[str, typer.Option("--app", help="App id; created if missing.")]


def _receiver(settings: Settings, provider: str, account: str, app_id: str) -> str:
    """The URL the platform must post to (RTK_PUBLIC_URL, else where `serve` listens)."""
    base = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    return f"{base}/integrations/{provider}/v1/accounts/{account}/apps/{app_id}"


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: the {what} is not UTF-8 text") from None


@app_app.command("set")
def set_app(
    account: Account,
    app_id: AppId,
    summarize_on_end: Annotated[
        bool | None,
        typer.Option(
            "--summarize-on-end/--no-summarize-on-end",
            help="Summarize each session with transcript segments when it ends.",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Change an app's settings."""
    from rtk_sessions.cli.operations import set_app as set_it

    if summarize_on_end is None:
        raise UserError("nothing to set: give --summarize-on-end or --no-summarize-on-end")
    settings = data_settings(data_dir)
    run(lambda: set_it(settings, account, app_id, summarize_on_end))
    state = "summarizes" if summarize_on_end else "does not summarize"
    typer.echo(f"{account}/{app_id} {state} sessions with transcript segments when they end")


@app_app.command("set-realtimekit")
def set_realtimekit(
    account: Account,
    app_id: AppId,
    public_key_file: Annotated[
        Path | None, typer.Option(help="RealtimeKit's webhook public key, PEM.")
    ] = None,
    public_key_url: Annotated[
        str | None,
        typer.Option(help="Where to fetch that key (RealtimeKit's /.well-known/webhooks.json)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Verify this app's RealtimeKit webhooks with this key; prints the URL to register."""
    from rtk_sessions.cli.operations import set_realtimekit as set_it

    if (public_key_file is None) == (public_key_url is None):
        raise UserError("give --public-key-file or --public-key-url (one of them)")
    pem = None if public_key_file is None else _read(public_key_file, "public key")
    settings = data_settings(data_dir)
    run(lambda: set_it(settings, account, app_id, pem, public_key_url))
    typer.echo(f"RealtimeKit webhooks of {account}/{app_id} are verified with that key; register")
    typer.echo(f"  {_receiver(settings, 'realtimekit', account, app_id)}")


@app_app.command("set-livekit")
def set_livekit(
    account: Account,
    app_id: AppId,
    api_key: Annotated[str, typer.Option(help="The LiveKit server's API key.")],
    api_secret_file: Annotated[Path, typer.Option(help="A file holding its API secret.")],
    data_dir: DataDir = None,
) -> None:
    """Verify this app's LiveKit webhooks with this API key and secret."""
    from rtk_sessions.cli.operations import set_livekit as set_it

    secret = _read(api_secret_file, "API secret")
    settings = data_settings(data_dir)
    run(lambda: set_it(settings, account, app_id, api_key, secret))
    typer.echo(f"LiveKit webhooks of {account}/{app_id} are verified with key {api_key}; add")
    typer.echo(f"  {_receiver(settings, 'livekit', account, app_id)}")
    typer.echo("to the webhook: urls: list of livekit.yaml")


@app_app.command("list")
def list_apps(data_dir: DataDir = None) -> None:
    """Every app, with the webhook sources set up for it and `summarize-on-end` if set."""
    from rtk_sessions.cli.operations import apps_with_integrations

    found = run(lambda: apps_with_integrations(data_settings(data_dir)))
    for account, app_id, providers, summarizes in found:
        setting = "  summarize-on-end" if summarizes else ""
        typer.echo(f"{account}/{app_id}  {', '.join(providers) or '-'}{setting}")
