"""Sending a lane's deliveries: one webhook's events of one meeting, one at a time, in the
order they were owed, each retried until delivered, refused for good, or out of attempts.

A delivery is taken for an attempt by a conditional update (a lease until the attempt's time
limit has passed), so two workers never send it at once, and one killed mid-attempt leaves
it due again when the lease ends: deliveries are at least once, and `rtk-uuid` lets the
receiver drop a repeat (docs/webhooks.md).
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions import __version__
from rtk_sessions.config import Settings
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.timeutil import now_ms, to_iso
from rtk_sessions.webhooks import repo
from rtk_sessions.webhooks.delivery import Outcome, backoff_ms, post
from rtk_sessions.webhooks.events import with_link
from rtk_sessions.webhooks.keys import signature
from rtk_sessions.webhooks.repo import DELIVERED, FAILED, SKIPPED, Lane, OutboxRow, WebhookRow

log = logging.getLogger("rtk_sessions.webhooks")
LEASE_MARGIN_MS = 5_000
MAX_ERROR = 500


@dataclass(frozen=True)
class Policy:
    timeout_s: float
    allow_private: bool
    max_attempts: int
    base_ms: int
    disable_after_ms: int

    @classmethod
    def of(cls, s: Settings) -> Policy:
        return cls(
            s.webhook_timeout,
            s.webhook_allow_private,
            max(1, s.webhook_max_attempts),
            int(s.webhook_retry_base * 1000),
            int(s.webhook_disable_after * 1000),
        )


def delivery_headers(key: rsa.RSAPrivateKey, row: OutboxRow, body: bytes) -> dict[str, str]:
    return {
        "rtk-signature": signature(key, body),
        "rtk-uuid": row.id,
        "rtk-webhook-id": row.webhook_id,
        "User-Agent": f"rtk-sessions/{__version__} (webhooks)",
    }


# (file key, the file's expiry, now) -> (a download URL, its expiry); ValueError when the
# file can no longer be linked.
Linker = Callable[[str, int | None, int], tuple[str, int]]


def body_to_send(row: OutboxRow, link: Linker, now: int) -> bytes:
    """The outbox body, with a fresh link for a file's event (ValueError if it expired)."""
    if row.file_key is None:
        return row.body.encode()
    url, expires = link(row.file_key, row.file_expires_at, now)
    return msgspec.json.encode(with_link(msgspec.json.decode(row.body), url, expires))


# A delivery whose session's chat or transcript is exported when it is sent -> (the file's
# key, its expiry), or None when there is nothing to export (no chat, no transcript).
Exporter = Callable[[OutboxRow], Awaitable[tuple[str, int | None] | None]]


async def _nothing_to_export(row: OutboxRow) -> None:
    return None


async def deliver_lane(
    db: Database,
    key: rsa.RSAPrivateKey,
    policy: Policy,
    lane: Lane,
    rng: random.Random,
    link: Linker,
    export: Exporter = _nothing_to_export,
) -> int:
    """Send the lane's due deliveries in order until one must wait (a retry later, another
    worker's lease) or none is left; returns how many attempts were made."""
    made = 0
    while True:
        now = now_ms()
        async with db.write() as conn:
            hook = await repo.webhook_by_id(conn, lane[0])
            head = await repo.lane_head(conn, lane)
            if hook is None or not hook.enabled or head is None or head.next_attempt_at > now:
                return made
            lease = now + int(policy.timeout_s * 1000) + LEASE_MARGIN_MS
            if not await repo.claim(conn, head, now, lease):
                return made
        outcome: Outcome | None = None
        if head.export_kind is not None and head.file_key is None:
            try:
                exported = await export(head)
            except Exception:  # the blob store or the database failed: try again later
                log.exception("exporting the %s for a webhook delivery failed", head.export_kind)
                outcome = Outcome(None, 0, f"the {head.export_kind} could not be exported", True)
            else:
                async with db.write() as conn:
                    if exported is None:  # no chat or no transcript: nothing to announce
                        await repo.settle(conn, head.pk, state=SKIPPED, finished_at=now_ms())
                        continue
                    file_key, expires = exported
                    await repo.settle(conn, head.pk, file_key=file_key, file_expires_at=expires)
                head = dataclasses.replace(head, file_key=file_key, file_expires_at=expires)
        if outcome is None:
            try:
                body = body_to_send(head, link, now_ms())
            except ValueError:
                outcome = Outcome(None, 0, "the file expired before it could be sent", False)
            else:
                outcome = await post(
                    hook.url,
                    body,
                    delivery_headers(key, head, body),
                    policy.timeout_s,
                    policy.allow_private,
                )
        made += 1
        async with db.write() as conn:
            if await repo.webhook_by_id(conn, hook.id, lock=True) is None:
                return made  # deleted while this attempt was out: its log went with it
            await _record(conn, hook, head, outcome, policy, now_ms(), rng)
        if not outcome.delivered and outcome.retry and head.attempts + 1 < policy.max_attempts:
            return made  # the head waits for its retry, and the lane behind it


async def _record(
    conn: AsyncConnection,
    hook: WebhookRow,
    head: OutboxRow,
    outcome: Outcome,
    policy: Policy,
    done: int,
    rng: random.Random,
) -> None:
    attempt = head.attempts + 1
    await repo.record_attempt(
        conn,
        outbox_pk=head.pk,
        webhook_id=hook.id,
        attempted_at=done,
        attempt=attempt,
        status_code=outcome.status,
        latency_ms=outcome.latency_ms,
        error=None if outcome.error is None else outcome.error[:MAX_ERROR],
    )
    if outcome.delivered:
        await repo.settle(conn, head.pk, state=DELIVERED, finished_at=done)
        if hook.failing_since is not None:
            await repo.update_webhook(conn, hook.id, failing_since=None)
        return
    if outcome.retry and attempt < policy.max_attempts:
        wait = max(backoff_ms(attempt, policy.base_ms, rng), outcome.retry_after_ms or 0)
        await repo.settle(conn, head.pk, next_attempt_at=done + wait)
    else:
        await repo.settle(conn, head.pk, state=FAILED, finished_at=done)
    await _failing(conn, hook, outcome, policy, done)


async def _failing(
    conn: AsyncConnection, hook: WebhookRow, outcome: Outcome, policy: Policy, done: int
) -> None:
    """A failed attempt: the webhook is failing since its first failure after a success;
    failing for RTK_WEBHOOK_DISABLE_AFTER disables it, with the reason on the webhook."""
    since = hook.failing_since
    if since is None:
        await repo.update_webhook(conn, hook.id, failing_since=done)
        return
    if done - since >= policy.disable_after_ms:
        reason = (
            f"disabled at {to_iso(done)}: every delivery failed since {to_iso(since)} "
            f"(last: {outcome.error})"
        )
        await repo.update_webhook(
            conn, hook.id, enabled=False, disabled_reason=reason[:256], updated_at=done
        )
