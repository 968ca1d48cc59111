"""The idle sweep: close LIVE sessions that have heard nothing for RTK_SESSION_IDLE_TIMEOUT."""

from __future__ import annotations

import logging

from rtk_sessions.auth.repo import list_apps
from rtk_sessions.ingest import repo as events_repo
from rtk_sessions.ingest.service import sweep_meeting
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.exclusive import run_exclusively
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms

log = logging.getLogger("rtk_sessions.sweep")


async def sweep_once(state: AppState, now: int | None = None) -> int:
    """One pass over every app; returns the number of peers closed."""
    now = now_ms() if now is None else now
    cutoff = now - state.settings.session_idle_timeout_ms
    async with state.db.read() as conn:
        idle = await events_repo.idle_meetings(conn, cutoff)
        apps = {pk: app_id for pk, _, app_id in await list_apps(conn)}
    closed = 0
    for app_pk, meeting_id in idle:
        async with state.db.write() as conn:
            app = AppRef(app_pk, apps[app_pk])
            closed += await sweep_meeting(
                conn, app, meeting_id, now, cutoff, state.settings.session_end_grace_ms
            )
    if closed:
        log.info("idle sweep closed %d peers in %d meetings", closed, len(idle))
    return closed


async def run_sweeper(state: AppState) -> None:
    """Sweep every RTK_SWEEP_INTERVAL in the one process of the deployment holding the sweep
    lock (kit/exclusive.py)."""
    await run_exclusively(
        state, "sweep", state.settings.sweep_interval, lambda: sweep_once(state), log
    )
