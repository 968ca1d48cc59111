"""Recurring upkeep inside `serve` and `worker`: requeue lost work, delete expired files, end
live rtcstats streams whose process died.

The reconciler makes requested work durable whatever happens to the queue (docs/jobs.md);
the purge enforces retention (docs/files.md). Both are safe to run in several processes at
once, but one pass per interval is enough: only the process of the deployment holding the
upkeep lock does them (kit/exclusive.py).
"""

from __future__ import annotations

import asyncio
import logging

from rtk_sessions.collector.service import end_abandoned_streams
from rtk_sessions.files import repo as files_repo
from rtk_sessions.files.service import KINDS, retention_ms
from rtk_sessions.integrations.realtimekit_downloads import reconcile_downloads
from rtk_sessions.kit.exclusive import run_exclusively
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.summaries.service import reconcile

log = logging.getLogger("rtk_sessions.maintenance")
PURGE_BATCH = 500


async def purge_once(state: AppState, now: int | None = None) -> tuple[int, int]:
    """Delete files nobody can fetch any more, and (if configured) old chat and transcript
    content; returns (files deleted, events deleted)."""
    now = now_ms() if now is None else now
    keep = {kind: retention_ms(state, kind) for kind in KINDS}
    ttl_ms = int(state.settings.link_ttl * 1000)
    files = 0
    while True:
        async with state.db.read() as conn:
            batch = await files_repo.purgeable(conn, now, ttl_ms, keep, PURGE_BATCH)
        for app_pk, key in batch:
            await asyncio.to_thread(state.blobs.delete, key)
            async with state.db.write() as conn:
                await files_repo.forget(conn, app_pk, key)
        files += len(batch)
        if len(batch) < PURGE_BATCH:
            break
    content = 0
    if state.settings.content_retention > 0:
        cutoff = now - int(state.settings.content_retention * 1000)
        async with state.db.write() as conn:
            content = await files_repo.delete_content(conn, cutoff)
    if files or content:
        log.info("purge deleted %d files and %d chat/transcript events", files, content)
    return files, content


async def tick(state: AppState, enqueued_before: int, started_before: int) -> None:
    await reconcile(state, enqueued_before, started_before)
    await reconcile_downloads(state, enqueued_before, started_before)
    await purge_once(state)
    await end_abandoned_streams(state, now_ms())


async def run_maintenance(state: AppState, process_started: int) -> None:
    """Upkeep every RTK_RECONCILE_INTERVAL, in the process holding the upkeep lock. Its first
    pass requeues what was enqueued or started before this process started (work an earlier
    process may have left unfinished); every later one, what has been waiting or running
    longer than RTK_JOB_STALE_AFTER."""
    stale_ms = int(state.settings.job_stale_after * 1000)
    first = True

    async def one_pass() -> None:
        nonlocal first
        before = process_started if first else now_ms() - stale_ms
        await tick(state, before, before)
        first = False

    await run_exclusively(state, "upkeep", state.settings.reconcile_interval, one_pass, log)
