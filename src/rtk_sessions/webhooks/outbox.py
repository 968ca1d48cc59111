"""Writing owed deliveries in the transaction of the change that caused them (docs/webhooks.md).

Called by derivation with a meeting's sessions before they are replaced, and by the file
builders when a chat export, transcript or summary is ready. An app without an enabled
webhook costs one indexed lookup and nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.apps import AppRef
from rtk_sessions.webhooks import repo
from rtk_sessions.webhooks.events import SessionState, WebhookEvent, changes, file_event
from rtk_sessions.webhooks.repo import PENDING, WebhookRow


async def owe_events(
    conn: AsyncConnection,
    hooks: Sequence[WebhookRow],
    events: Sequence[WebhookEvent],
    now: int,
    file_key: str | None = None,
    file_expires_at: int | None = None,
) -> None:
    """One delivery per subscribed webhook and event, in the events' order (the outbox's
    order is the lane's order); an event already owed to a webhook is skipped."""
    rows: list[dict[str, object]] = [
        {
            "id": str(uuid.uuid4()),
            "webhook_id": hook.id,
            "meeting_id": event.meeting_id,
            "event": event.name,
            "event_key": event.key,
            "body": msgspec.json.encode(event.payload).decode(),
            "file_key": file_key,
            "file_expires_at": file_expires_at,
            "export_kind": event.export,
            "state": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "finished_at": None,
        }
        for event in events
        for hook in hooks
        if event.name in hook.event_names
    ]
    for row in rows:  # one statement each, so the outbox's order is the events' order
        await repo.owe(conn, [row])


async def subscribers(conn: AsyncConnection, app: AppRef) -> list[WebhookRow]:
    """The app's enabled webhooks; none means no event need be worked out at all."""
    return await repo.subscribed(conn, app.pk)


async def owe_session_changes(
    conn: AsyncConnection,
    app: AppRef,
    hooks: Sequence[WebhookRow],
    new: Mapping[str, Sequence[SessionState]],
    host_ends: Mapping[str, frozenset[int]],
    now: int,
) -> None:
    """The deliveries owed for these meetings' sessions becoming `new` (derivation calls this
    just before it replaces them, in the same transaction)."""
    old = await repo.session_states(conn, app.pk, sorted(new))
    events = [
        e
        for m in sorted(new)
        for e in changes(app.app_id, old.get(m, []), new[m], host_ends.get(m, frozenset()))
    ]
    await owe_events(conn, hooks, events, now)


async def owe_file_ready(
    conn: AsyncConnection,
    app: AppRef,
    session: SessionState,
    name: str,
    version: str,
    file_key: str,
    file_expires_at: int | None,
    now: int,
) -> None:
    """A session's chat export, transcript or summary (`name`) is stored under `file_key`:
    the deliveries owed, in the transaction that records the file."""
    hooks = await repo.subscribed(conn, app.pk)
    if hooks:
        event = file_event(app.app_id, session, name, version)
        await owe_events(conn, hooks, [event], now, file_key, file_expires_at)
