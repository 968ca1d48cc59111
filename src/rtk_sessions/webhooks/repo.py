"""Every SQL statement about outgoing webhooks: subscriptions, the outbox, the attempts log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.rows import from_row
from rtk_sessions.kit.tables import webhook_attempts, webhook_outbox, webhooks


@dataclass(frozen=True)
class WebhookRow:
    id: str
    app_pk: int
    name: str
    url: str
    events: str  # comma-separated
    enabled: bool
    created_at: int
    updated_at: int
    failing_since: int | None
    disabled_reason: str | None

    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(e for e in self.events.split(",") if e)


async def insert_webhook(conn: AsyncConnection, row: WebhookRow) -> None:
    await conn.execute(insert(webhooks).values(**row.__dict__))


async def list_webhooks(conn: AsyncConnection, app_pk: int) -> list[WebhookRow]:
    rows = await conn.execute(
        select(webhooks)
        .where(webhooks.c.app_pk == app_pk)
        .order_by(webhooks.c.created_at, webhooks.c.id)
    )
    return [from_row(WebhookRow, r) for r in rows]


async def get_webhook(conn: AsyncConnection, app_pk: int, webhook_id: str) -> WebhookRow | None:
    row = (
        await conn.execute(
            select(webhooks).where(webhooks.c.app_pk == app_pk, webhooks.c.id == webhook_id)
        )
    ).first()
    return None if row is None else from_row(WebhookRow, row)


async def update_webhook(conn: AsyncConnection, webhook_id: str, **values: object) -> None:
    await conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))


async def delete_webhook(conn: AsyncConnection, webhook_id: str) -> None:
    """The subscription with its log and every delivery still owed to it."""
    await conn.execute(delete(webhook_attempts).where(webhook_attempts.c.webhook_id == webhook_id))
    await conn.execute(delete(webhook_outbox).where(webhook_outbox.c.webhook_id == webhook_id))
    await conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
