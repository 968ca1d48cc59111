"""Every SQL statement about outgoing webhooks: subscriptions, the outbox, the attempts log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.rows import chunks, from_row
from rtk_sessions.kit.tables import (
    apps,
    peers,
    sessions,
    webhook_attempts,
    webhook_outbox,
    webhooks,
)
from rtk_sessions.webhooks.events import PeerState, SessionState


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
    """The subscription with its log and every delivery still owed to it. The row is locked
    first, so an attempt being recorded meanwhile is either deleted too or never written."""
    await webhook_by_id(conn, webhook_id, lock=True)
    await conn.execute(delete(webhook_attempts).where(webhook_attempts.c.webhook_id == webhook_id))
    await conn.execute(delete(webhook_outbox).where(webhook_outbox.c.webhook_id == webhook_id))
    await conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))


PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped"
Lane = tuple[str, str]  # (webhook id, meeting id): deliveries sent one at a time, in order


@dataclass(frozen=True)
class OutboxRow:
    pk: int
    id: str
    webhook_id: str
    meeting_id: str
    event: str
    event_key: str
    body: str
    file_key: str | None
    file_expires_at: int | None
    export_kind: str | None
    state: str
    attempts: int
    next_attempt_at: int
    created_at: int
    finished_at: int | None


@dataclass(frozen=True)
class AttemptRow:
    attempted_at: int
    event: str
    delivery_id: str
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str | None
    state: str


async def subscribed(conn: AsyncConnection, app_pk: int) -> list[WebhookRow]:
    """The app's enabled webhooks: the ones new events are owed to."""
    rows = await conn.execute(
        select(webhooks)
        .where(webhooks.c.app_pk == app_pk, webhooks.c.enabled.is_(True))
        .order_by(webhooks.c.id)
    )
    return [from_row(WebhookRow, r) for r in rows]


async def owe(conn: AsyncConnection, rows: list[dict[str, object]]) -> None:
    """Add deliveries; one whose (webhook, event key) is owed already is skipped, so the same
    state change seen again (a duplicate, a rebuild) is never sent twice."""
    if not rows:
        return
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(dialect_insert(webhook_outbox).on_conflict_do_nothing(), rows)


async def lane_head(conn: AsyncConnection, lane: Lane) -> OutboxRow | None:
    """The oldest delivery of the lane not finished yet: the only one that may be sent."""
    webhook_id, meeting_id = lane
    row = (
        await conn.execute(
            select(webhook_outbox)
            .where(
                webhook_outbox.c.webhook_id == webhook_id,
                webhook_outbox.c.meeting_id == meeting_id,
                webhook_outbox.c.state == PENDING,
            )
            .order_by(webhook_outbox.c.pk)
            .limit(1)
        )
    ).first()
    return None if row is None else from_row(OutboxRow, row)


async def claim(conn: AsyncConnection, head: OutboxRow, now: int, lease_until: int) -> bool:
    """Take the delivery for one attempt, unless another worker took it meanwhile: its next
    attempt moves to the lease's end, so a worker that dies leaves it due again then."""
    changed = await conn.execute(
        update(webhook_outbox)
        .where(
            webhook_outbox.c.pk == head.pk,
            webhook_outbox.c.state == PENDING,
            webhook_outbox.c.attempts == head.attempts,
            webhook_outbox.c.next_attempt_at <= now,
        )
        .values(attempts=head.attempts + 1, next_attempt_at=lease_until)
    )
    return bool(changed.rowcount)


async def record_attempt(conn: AsyncConnection, **values: object) -> None:
    await conn.execute(insert(webhook_attempts).values(**values))


async def settle(conn: AsyncConnection, pk: int, **values: object) -> None:
    await conn.execute(update(webhook_outbox).where(webhook_outbox.c.pk == pk).values(**values))


async def due_lanes(conn: AsyncConnection, now: int, limit: int) -> list[tuple[Lane, int, bool]]:
    """Lanes of enabled webhooks whose head delivery is due, with the time it became due and
    whether their webhook is failing."""
    heads = (
        select(func.min(webhook_outbox.c.pk))
        .where(webhook_outbox.c.state == PENDING)
        .group_by(webhook_outbox.c.webhook_id, webhook_outbox.c.meeting_id)
    )
    rows = await conn.execute(
        select(
            webhook_outbox.c.webhook_id,
            webhook_outbox.c.meeting_id,
            webhook_outbox.c.next_attempt_at,
            webhooks.c.failing_since,
        )
        .join(webhooks, webhooks.c.id == webhook_outbox.c.webhook_id)
        .where(
            webhook_outbox.c.pk.in_(heads),
            webhook_outbox.c.next_attempt_at <= now,
            webhooks.c.enabled.is_(True),
        )
        .order_by(webhook_outbox.c.next_attempt_at)
        .limit(limit)
    )
    return [
        ((r.webhook_id, r.meeting_id), r.next_attempt_at, r.failing_since is not None) for r in rows
    ]


async def webhook_by_id(
    conn: AsyncConnection, webhook_id: str, *, lock: bool = False
) -> WebhookRow | None:
    """`lock` holds the row until the transaction ends (PostgreSQL; SQLite has one writer),
    so that a delete cannot interleave with writing an attempt of this webhook."""
    query = select(webhooks).where(webhooks.c.id == webhook_id)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    return None if row is None else from_row(WebhookRow, row)


async def attempts_log(
    conn: AsyncConnection, webhook_id: str, limit: int, offset: int
) -> tuple[list[AttemptRow], int]:
    """The webhook's attempts, newest first, with how many there are in all."""
    joined = webhook_attempts.join(
        webhook_outbox, webhook_outbox.c.pk == webhook_attempts.c.outbox_pk
    )
    rows = await conn.execute(
        select(
            webhook_attempts.c.attempted_at,
            webhook_outbox.c.event,
            webhook_outbox.c.id.label("delivery_id"),
            webhook_attempts.c.attempt,
            webhook_attempts.c.status_code,
            webhook_attempts.c.latency_ms,
            webhook_attempts.c.error,
            webhook_outbox.c.state,
        )
        .select_from(joined)
        .where(webhook_attempts.c.webhook_id == webhook_id)
        .order_by(webhook_attempts.c.pk.desc())
        .limit(limit)
        .offset(offset)
    )
    total = (
        await conn.execute(
            select(func.count())
            .select_from(webhook_attempts)
            .where(webhook_attempts.c.webhook_id == webhook_id)
        )
    ).scalar_one()
    return [from_row(AttemptRow, r) for r in rows], int(total)


async def reopen(conn: AsyncConnection, webhook_id: str, delivery_id: str, now: int) -> Lane | None:
    """Make a finished or failing delivery due now with a fresh count of attempts."""
    row = (
        await conn.execute(
            select(webhook_outbox.c.pk, webhook_outbox.c.meeting_id).where(
                and_(webhook_outbox.c.webhook_id == webhook_id, webhook_outbox.c.id == delivery_id)
            )
        )
    ).first()
    if row is None:
        return None
    await settle(conn, row.pk, state=PENDING, attempts=0, next_attempt_at=now, finished_at=None)
    return webhook_id, row.meeting_id


async def session_states(
    conn: AsyncConnection, app_pk: int, meeting_ids: list[str]
) -> dict[str, list[SessionState]]:
    """The stored (about to be replaced) sessions and peers of these meetings."""
    found: dict[str, list[SessionState]] = {}
    peers_of: dict[str, list[PeerState]] = {}
    for chunk in chunks(meeting_ids):
        for r in await conn.execute(
            select(
                peers.c.id, peers.c.session_id, peers.c.display_name,
                peers.c.custom_participant_id, peers.c.joined_at, peers.c.left_at,
            ).where(peers.c.app_pk == app_pk, peers.c.meeting_id.in_(chunk))
        ):  # fmt: skip
            peers_of.setdefault(r.session_id, []).append(
                PeerState(r.id, r.display_name, r.custom_participant_id, r.joined_at, r.left_at)
            )
        for r in await conn.execute(
            select(
                sessions.c.id, sessions.c.meeting_id, sessions.c.title, sessions.c.status,
                sessions.c.started_at, sessions.c.own_ended_at,
            ).where(sessions.c.app_pk == app_pk, sessions.c.meeting_id.in_(chunk))
        ):  # fmt: skip
            ended = None if r.status == "LIVE" else r.own_ended_at
            state = SessionState(
                r.id, r.meeting_id, r.title, r.started_at, ended, tuple(peers_of.get(r.id, ()))
            )
            found.setdefault(r.meeting_id, []).append(state)
    return found


async def app_of_webhook(conn: AsyncConnection, webhook_id: str) -> tuple[int, str] | None:
    row = (
        await conn.execute(
            select(apps.c.pk, apps.c.app_id)
            .join(webhooks, webhooks.c.app_pk == apps.c.pk)
            .where(webhooks.c.id == webhook_id)
        )
    ).first()
    return None if row is None else (row.pk, row.app_id)


@dataclass(frozen=True)
class SessionDelivery:
    """A delivery owed or made because of a session, as its dashboard page lists it."""

    delivery_id: str
    webhook_id: str
    webhook_name: str
    event: str
    state: str
    attempts: int
    created_at: int
    finished_at: int | None


async def session_deliveries(
    conn: AsyncConnection, app_pk: int, meeting_id: str, session_id: str, limit: int
) -> list[SessionDelivery]:
    """The deliveries of the app's webhooks about this session, oldest first: those of its
    meeting whose signed body names it (every event about a session carries its id)."""
    o, w = webhook_outbox.c, webhooks.c
    rows = await conn.execute(
        select(o.id, o.webhook_id, w.name, o.event, o.state, o.attempts, o.created_at,
               o.finished_at)
        .select_from(webhook_outbox.join(webhooks, w.id == o.webhook_id))
        .where(
            w.app_pk == app_pk,
            o.meeting_id == meeting_id,
            o.body.contains(session_id, autoescape=True),
        )
        .order_by(o.pk)
        .limit(limit)
    )
    return [SessionDelivery(*r) for r in rows]
