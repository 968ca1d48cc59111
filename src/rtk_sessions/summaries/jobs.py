"""The summaries' job, as the queue calls it: ids in, the summary made and stored."""

from __future__ import annotations

from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.state import AppState
from rtk_sessions.summaries import service


async def summary(own: AppState, app_pk: int, app_id: str, session_id: str) -> bool:
    return await service.run_summary(own, AppRef(app_pk, app_id), session_id)


JOBS = {service.JOB: summary}
