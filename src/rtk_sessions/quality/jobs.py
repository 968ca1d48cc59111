"""The call-quality job, as the queue calls it: a session's peer reports built and stored."""

from __future__ import annotations

from rtk_sessions.quality import service

JOBS = {service.JOB: service.run_reports}
