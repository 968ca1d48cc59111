"""Managing an app's webhooks (docs/webhooks.md): the SDK's six calls, on one transaction each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.errors import NotFound
from rtk_sessions.webhooks import repo
from rtk_sessions.webhooks.model import WebhookSpec, full_spec, patched_spec
from rtk_sessions.webhooks.repo import AttemptRow, SessionDelivery, WebhookRow


def _not_found(webhook_id: str) -> NotFound:
    return NotFound(f"No webhook found with id {webhook_id[:64]!r} in this app.")


def spec_of(row: WebhookRow) -> WebhookSpec:
    return WebhookSpec(row.name, row.url, row.event_names, row.enabled)


def _stored(spec: WebhookSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "url": spec.url,
        "events": ",".join(spec.events),
        "enabled": spec.enabled,
    }


async def create_webhook(db: Database, app: AppRef, body: Any, now: int) -> WebhookRow:
    spec = full_spec(body)
    row = WebhookRow(
        id=str(uuid.uuid4()),
        app_pk=app.pk,
        created_at=now,
        updated_at=now,
        failing_since=None,
        disabled_reason=None,
        **_stored(spec),
    )
    async with db.write() as conn:
        await repo.insert_webhook(conn, row)
    return row


async def list_webhooks(db: Database, app: AppRef) -> list[WebhookRow]:
    async with db.read() as conn:
        return await repo.list_webhooks(conn, app.pk)


async def get_webhook(db: Database, app: AppRef, webhook_id: str) -> WebhookRow:
    async with db.read() as conn:
        row = await repo.get_webhook(conn, app.pk, webhook_id)
    if row is None:
        raise _not_found(webhook_id)
    return row


async def change_webhook(
    db: Database, app: AppRef, webhook_id: str, body: Any, now: int, *, replace: bool
) -> WebhookRow:
    """PUT (`replace`) sets every field, PATCH the ones given. Enabling a webhook that was
    disabled for failing clears that state, so it gets a fresh three days."""
    async with db.write() as conn:
        current = await repo.get_webhook(conn, app.pk, webhook_id)
        if current is None:
            raise _not_found(webhook_id)
        spec = full_spec(body) if replace else patched_spec(spec_of(current), body)
        values: dict[str, Any] = {**_stored(spec), "updated_at": now}
        if spec.enabled and not current.enabled:
            values.update(failing_since=None, disabled_reason=None)
        await repo.update_webhook(conn, webhook_id, **values)
        return WebhookRow(**{**current.__dict__, **values})


async def delete_webhook(db: Database, app: AppRef, webhook_id: str) -> WebhookRow:
    """Remove it with its log; deliveries still owed to it are dropped."""
    async with db.write() as conn:
        current = await repo.get_webhook(conn, app.pk, webhook_id)
        if current is None:
            raise _not_found(webhook_id)
        await repo.delete_webhook(conn, webhook_id)
    return current


MAX_PAGE = 100


@dataclass(frozen=True)
class DeliveryLog:
    webhook: WebhookRow
    attempts: list[AttemptRow]  # this page's, newest first
    total: int  # attempts in all


async def delivery_log(
    db: Database, app: AppRef, webhook_id: str, page_no: int, per_page: int
) -> DeliveryLog:
    """The webhook and a page of its attempts, newest first (our extension,
    docs/webhooks.md), read in one transaction."""
    async with db.read() as conn:
        webhook = await repo.get_webhook(conn, app.pk, webhook_id)
        if webhook is None:
            raise _not_found(webhook_id)
        rows, total = await repo.attempts_log(conn, webhook_id, per_page, (page_no - 1) * per_page)
    return DeliveryLog(webhook, rows, total)


async def redeliver(db: Database, app: AppRef, webhook_id: str, delivery_id: str, now: int) -> None:
    """Send a delivery again (same rtk-uuid), whatever became of it, with fresh attempts; it
    goes out when the deliveries owed before it in its meeting have gone."""
    async with db.write() as conn:
        if await repo.get_webhook(conn, app.pk, webhook_id) is None:
            raise _not_found(webhook_id)
        if await repo.reopen(conn, webhook_id, delivery_id, now) is None:
            raise NotFound(
                f"No delivery {delivery_id[:64]!r} of this webhook: the ids are the rtk-uuid "
                "values listed by GET .../deliveries"
            )


async def session_deliveries(
    conn: AsyncConnection, app: AppRef, meeting_id: str, session_id: str, limit: int
) -> list[SessionDelivery]:
    """What the app's webhooks were sent (or are owed) about this session, oldest first."""
    return await repo.session_deliveries(conn, app.pk, meeting_id, session_id, limit)
