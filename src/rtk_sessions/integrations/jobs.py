"""The integrations' job, as the queue calls it: one RealtimeKit session's files downloaded."""

from __future__ import annotations

from rtk_sessions.integrations import realtimekit_downloads

JOBS = {realtimekit_downloads.JOB: realtimekit_downloads.run_download}
