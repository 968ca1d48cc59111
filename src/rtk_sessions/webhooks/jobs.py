"""The delivery job, as the queue calls it, and the pump that enqueues it for due lanes."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

import msgspec

from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.blobs import content_type_for
from rtk_sessions.kit.exclusive import run_exclusively
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.webhooks import repo
from rtk_sessions.webhooks.keys import signing_key
from rtk_sessions.webhooks.repo import Lane, OutboxRow
from rtk_sessions.webhooks.sending import LEASE_MARGIN_MS, Linker, Policy, deliver_lane

log = logging.getLogger("rtk_sessions.webhooks")
JOB = "webhooks.deliver"
PUMP_INTERVAL_S = 1.0
PUMP_BATCH = 500
FORGET_AFTER_S = 60.0  # a lane enqueued this long ago whose head is still due: enqueue again


def linker(state: AppState) -> Linker:
    """Fresh links as GET .../chat hands out (RTK_LINK_TTL, never past the file's
    retention), pointing at RTK_PUBLIC_URL, else where `serve` listens."""
    s = state.settings
    base = s.public_url.rstrip("/") or f"http://{s.host}:{s.port}"
    ttl_ms = int(s.link_ttl * 1000)

    def link(file_key: str, file_expires_at: int | None, now: int) -> tuple[str, int]:
        wanted = now + ttl_ms if file_expires_at is None else min(now + ttl_ms, file_expires_at)
        wanted -= wanted % 1000
        if wanted - now < 1000:
            raise ValueError("the file expired")
        filename = file_key.rsplit("/", 1)[-1]
        made = state.blobs.link(
            file_key,
            base_url=base,
            expires_at_ms=wanted,
            filename=filename,
            content_type=content_type_for(filename),
        )
        return made.url, made.expires_at_ms

    return link


# (state, app, "chat" or "transcript", session id) -> the exported file's key and expiry,
# or None when there is nothing to export. The job registry (upkeep/jobs.py) provides it:
# exporting is the chat and transcript resources' business.
SessionExporter = Callable[[AppState, AppRef, str, str], Awaitable[tuple[str, int | None] | None]]


async def deliver(
    own: AppState, webhook_id: str, meeting_id: str, *, export: SessionExporter
) -> None:
    key = signing_key(own.settings.data_dir)
    policy = Policy.of(own.settings)

    async def export_of(row: OutboxRow) -> tuple[str, int | None] | None:
        async with own.db.read() as conn:
            found = await repo.app_of_webhook(conn, row.webhook_id)
        if found is None or row.export_kind is None:
            return None
        body = msgspec.json.decode(row.body)
        session_id = body.get("sessionId") or body["meeting"]["sessionId"]
        return await export(own, AppRef(*found), row.export_kind, session_id)

    lane = (webhook_id, meeting_id)
    await deliver_lane(own.db, key, policy, lane, random.Random(), linker(own), export_of)


class Pump:
    """Enqueues a delivery job for each lane whose head is due, once per time it became due:
    new deliveries (written with the state change that caused them), retries whose wait is
    over, and deliveries a killed worker left leased. The outbox is the record; the queue
    only carries the work (docs/jobs.md)."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.enqueued: dict[Lane, tuple[int, float]] = {}

    async def once(self) -> int:
        async with self.state.db.read() as conn:
            due = await repo.due_lanes(conn, now_ms(), PUMP_BATCH)
        clock = time.monotonic()
        self.enqueued = {
            lane: seen for lane, seen in self.enqueued.items() if clock - seen[1] < FORGET_AFTER_S
        }
        # A failing webhook (a dead or slow endpoint) gets one lane in flight at a time, so
        # its meetings' deliveries cannot fill the job workers that other webhooks need.
        in_flight_s = self.state.settings.webhook_timeout + LEASE_MARGIN_MS / 1000
        busy = {lane[0] for lane, (_, at) in self.enqueued.items() if clock - at < in_flight_s}
        sent = 0
        for lane, due_at, failing in due:
            seen = self.enqueued.get(lane)
            if seen is not None and seen[0] == due_at:
                continue  # its job is waiting in the queue or running
            if failing and lane[0] in busy:
                continue
            await asyncio.to_thread(self.state.jobs.enqueue, JOB, *lane)
            self.enqueued[lane] = (due_at, clock)
            busy.add(lane[0])
            sent += 1
        return sent


async def run_pump(state: AppState) -> None:
    """The pump every second, in the one process of the deployment holding its lock."""
    pump = Pump(state)
    await run_exclusively(state, "webhooks", PUMP_INTERVAL_S, pump.once, log)
