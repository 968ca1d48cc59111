"""The summaries' job, as the queue calls it: ids in, the summary made and stored; and the
pump that enqueues the requests summarize-on-end writes inside ingestion's transactions."""

from __future__ import annotations

import logging

from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.exclusive import run_exclusively
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.summaries import service

log = logging.getLogger("rtk_sessions.summaries")
PUMP_INTERVAL_S = 1.0
# A POST enqueues its own request right after writing it; the pump leaves a request this
# young alone so as not to enqueue it a second time.
PUMP_GRACE_MS = 2_000


async def summary(own: AppState, app_pk: int, app_id: str, session_id: str) -> bool:
    return await service.run_summary(own, AppRef(app_pk, app_id), session_id)


async def run_summary_pump(state: AppState) -> None:
    """Every second, in the one process of the deployment holding its lock."""

    async def once() -> int:
        return await service.enqueue_new(state, now_ms() - PUMP_GRACE_MS)

    await run_exclusively(state, "summaries", PUMP_INTERVAL_S, once, log)


JOBS = {service.JOB: summary}
