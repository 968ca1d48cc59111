"""`rtk-sessions webhook create|list|delete|deliveries|redeliver`: an app's outgoing webhooks (docs/webhooks.md),
through the same service and checks as the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from rtk_sessions.cli.common import DataDir, app, data_settings, run
from rtk_sessions.config import Settings
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.timeutil import now_ms, to_iso

T = TypeVar("T")
webhook_app = typer.Typer(help="Manage an app's outgoing webhooks.", no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")

Account = Annotated[str, typer.Option("--account", help="Account id.")]
AppId = Annotated[str, typer.Option("--app", help="App id.")]


async def _with_app(
    settings: Settings, account: str, app_id: str, work: Callable[[Database, AppRef], Awaitable[T]]
) -> T:
    """Run `work` on the app (an error naming it if it does not exist)."""
    from rtk_sessions.auth.service import resolve_app
    from rtk_sessions.cli.operations import migrate

    await migrate(settings)
    db = Database(settings.effective_database_url)
    try:
        async with db.read() as conn:
            pk = await resolve_app(conn, account, app_id)
        return await work(db, AppRef(pk, app_id))
    finally:
        await db.dispose()


@webhook_app.command("create")
def webhook_create(
    account: Account,
    app_id: AppId,
    url: Annotated[str, typer.Option(help="http(s) URL deliveries are POSTed to.")],
    event: Annotated[
        list[str], typer.Option(help="An event to send, e.g. meeting.ended; repeatable.")
    ],
    name: Annotated[str, typer.Option(help="A name to recognise it by.")] = "webhook",
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it switched off.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Subscribe a URL to events; prints the webhook's id."""
    from rtk_sessions.webhooks.service import create_webhook

    body = {"name": name, "url": url, "events": event, "enabled": not disabled}
    settings = data_settings(data_dir)
    row = run(
        lambda: _with_app(
            settings, account, app_id, lambda db, a: create_webhook(db, a, body, now_ms())
        )
    )
    typer.echo(row.id)


@webhook_app.command("list")
def webhook_list(account: Account, app_id: AppId, data_dir: DataDir = None) -> None:
    """List the app's webhooks: id, state, events, URL, name."""
    from rtk_sessions.webhooks.service import list_webhooks

    settings = data_settings(data_dir)
    rows = run(lambda: _with_app(settings, account, app_id, list_webhooks))
    for r in rows:
        state = "enabled" if r.enabled else f"disabled ({r.disabled_reason or 'by request'})"
        typer.echo(f"{r.id}\t{state}\t{','.join(r.event_names)}\t{r.url}\t{r.name}")
        typer.echo(f"\tcreated {to_iso(r.created_at)}, updated {to_iso(r.updated_at)}")


@webhook_app.command("delete")
def webhook_delete(
    account: Account,
    app_id: AppId,
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id.")],
    data_dir: DataDir = None,
) -> None:
    """Delete a webhook with its delivery log; deliveries it is still owed are dropped."""
    from rtk_sessions.webhooks.service import delete_webhook

    settings = data_settings(data_dir)
    run(
        lambda: _with_app(
            settings, account, app_id, lambda db, a: delete_webhook(db, a, webhook_id)
        )
    )
    typer.echo("deleted")


@webhook_app.command("deliveries")
def webhook_deliveries(
    account: Account,
    app_id: AppId,
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id.")],
    limit: Annotated[int, typer.Option(help="At most this many attempts, newest first.")] = 50,
    data_dir: DataDir = None,
) -> None:
    """The webhook's delivery log, newest first: time, event, rtk-uuid, attempt, status
    code (- when no answer came), latency, state of the delivery, error."""
    from rtk_sessions.webhooks.service import delivery_log

    settings = data_settings(data_dir)
    log = run(
        lambda: _with_app(
            settings, account, app_id,
            lambda db, a: delivery_log(db, a, webhook_id, 1, max(1, limit)),
        )
    )  # fmt: skip
    typer.echo(f"{log.total} attempts")
    for r in log.attempts:
        status = "-" if r.status_code is None else str(r.status_code)
        typer.echo(
            f"{to_iso(r.attempted_at)}\t{r.event}\t{r.delivery_id}\t#{r.attempt}\t{status}"
            f"\t{r.latency_ms} ms\t{r.state}\t{r.error or ''}".rstrip()
        )


@webhook_app.command("redeliver")
def webhook_redeliver(
    account: Account,
    app_id: AppId,
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id.")],
    delivery_id: Annotated[str, typer.Argument(help="The delivery's rtk-uuid.")],
    data_dir: DataDir = None,
) -> None:
    """Send a delivery again, with its rtk-uuid and a fresh count of attempts."""
    from rtk_sessions.webhooks.service import redeliver

    settings = data_settings(data_dir)
    run(
        lambda: _with_app(
            settings, account, app_id,
            lambda db, a: redeliver(db, a, webhook_id, delivery_id, now_ms()),
        )
    )  # fmt: skip
    typer.echo("pending")
