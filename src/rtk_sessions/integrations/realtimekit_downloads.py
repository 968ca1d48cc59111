"""RealtimeKit's chat, transcript and summary files: a durable intent per session and kind,
and a job that downloads the file and takes it in (docs/integrations.md, docs/jobs.md).

The webhook writes the intent (PENDING) before it answers; the job fetches the file
(kit/fetch.py), turns it into events (or the session's summary) and marks it DONE. A failure
that a retry can fix (network, 5xx, a session not there yet) is tried again after a wait that
doubles from 30 s, RTK_FETCH_ATTEMPTS tries in all; any other (refused address, 4xx, a file
that does not parse) is FAILED at once. Every failure is logged, the link's query masked.
A reconciler enqueues every due intent without a live job, as for summaries.
"""

from __future__ import annotations

import asyncio

from rtk_sessions.auth.repo import list_apps
from rtk_sessions.ingest.service import accept, check_batch
from rtk_sessions.ingest.validation import BatchRefused
from rtk_sessions.integrations import realtimekit_files as files
from rtk_sessions.integrations import webhook_repo as repo
from rtk_sessions.integrations.realtimekit_events import CHAT, SUMMARY, TRANSCRIPT
from rtk_sessions.integrations.webhook_repo import DONE, FAILED, PENDING, DownloadRow
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.errors import NotFound
from rtk_sessions.kit.fetch import FetchError, FetchPolicy, fetch
from rtk_sessions.kit.redact import redact_url, redacted_logger
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.sessions.service import find_session
from rtk_sessions.summaries.service import store_imported_summary

log = redacted_logger("rtk_sessions.integrations")
JOB = "realtimekit_download"
FIRST_WAIT_MS = 30_000
MAX_WAIT_MS = 3_600_000
BATCH = 5_000  # events per ingestion batch (the ingest limit)
DELIVERIES_KEPT_MS = 7 * 86_400_000  # RealtimeKit's retries of one delivery end long before


class _Retry(Exception):
    """A failure that may pass: try again later."""


def wait_before_try(tries_done: int) -> int:
    """Milliseconds to wait after `tries_done` failed tries: 30 s, 60 s, 120 s, ... ≤ 1 h."""
    return int(min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** max(0, tries_done - 1)))


async def enqueue_download(
    state: AppState, app_pk: int, account_id: str, app_id: str, session_id: str, kind: str,
    requested_at: int,
) -> None:  # fmt: skip
    """Hand a written intent to the queue; if that fails, the reconciler does it later."""
    try:
        await asyncio.to_thread(
            state.jobs.enqueue, JOB, app_pk, account_id, app_id, session_id, kind
        )
    except Exception:
        log.exception(
            "could not enqueue the %s download of %s; the reconciler will", kind, session_id
        )
        return
    async with state.db.write() as conn:
        await repo.mark_download(conn, app_pk, session_id, kind, requested_at, enqueued_at=now_ms())


async def run_download(
    state: AppState, app_pk: int, account_id: str, app_id: str, session_id: str, kind: str
) -> bool:
    """The job: one try of one download; safe to run twice. False when the try failed (the
    failure is recorded, and retried later when it may pass)."""
    started = now_ms()
    async with state.db.write() as conn:
        intent = await repo.get_download(conn, app_pk, session_id, kind)
        if intent is None or intent.status != PENDING:
            return True
        tries = intent.attempts + 1
        await repo.mark_download(conn, app_pk, session_id, kind, intent.requested_at,
                                 run_started_at=started, attempts=tries, updated_at=started)  # fmt: skip
    where = f"{kind} download of session {session_id} from {redact_url(intent.url)}"
    try:
        data = await fetch(intent.url, FetchPolicy.of(state.settings))
        count = await _take_in(state, account_id, AppRef(app_pk, app_id), intent, data)
    except FetchError as exc:
        return await _failed(state, intent, tries, where, exc.reason, exc.permanent)
    except files.FileRefused as exc:
        return await _failed(state, intent, tries, where, str(exc), permanent=True)
    except BatchRefused as exc:
        first = exc.details[0]["message"] if exc.details else ""
        return await _failed(state, intent, tries, where, f"{exc.message}: {first}", permanent=True)
    except _Retry as exc:
        return await _failed(state, intent, tries, where, str(exc), permanent=False)
    except Exception:
        log.exception("%s: try %d failed", where, tries)
        return await _failed(state, intent, tries, where, "internal error", permanent=False)
    async with state.db.write() as conn:
        await repo.mark_download(conn, app_pk, session_id, kind, intent.requested_at,
                                 status=DONE, error=None, updated_at=now_ms())  # fmt: skip
    log.info("%s: done (%d items)", where, count)
    return True


async def _failed(
    state: AppState, intent: DownloadRow, tries: int, where: str, reason: str, permanent: bool
) -> bool:
    now = now_ms()
    final = permanent or tries >= state.settings.fetch_attempts
    if final:
        values: dict[str, object] = {"status": FAILED}
        log.warning("%s: failed for good after %d tries: %s", where, tries, reason)
    else:
        wait = wait_before_try(tries)
        values = {"next_attempt_at": now + wait, "enqueued_at": None, "run_started_at": None}
        log.warning("%s: try %d of %d failed: %s; next try in %d s",
                    where, tries, state.settings.fetch_attempts, reason, wait // 1000)  # fmt: skip
    async with state.db.write() as conn:
        await repo.mark_download(conn, intent.app_pk, intent.session_id, intent.kind,
                                 intent.requested_at, error=reason[:500], updated_at=now,
                                 **values)  # fmt: skip
    return False


async def _take_in(
    state: AppState, account_id: str, app: AppRef, intent: DownloadRow, data: bytes
) -> int:
    """Store what the file holds; the number of messages, segments or summaries."""
    now = now_ms()
    if intent.kind == SUMMARY:
        text = files.summary_text(data)
        try:
            await store_imported_summary(state, app, intent.session_id, text, now)
        except NotFound:
            raise _Retry("the session is not known yet (its joins have not arrived)") from None
        return 1
    if intent.kind == CHAT:
        events = files.chat_events(data, intent.session_id, intent.meeting_id)
    elif intent.kind == TRANSCRIPT:
        start = intent.session_started_at
        if start is None:
            async with state.db.read() as conn:
                try:
                    start = (await find_session(conn, app, intent.session_id)).started_at
                except NotFound:
                    raise _Retry("the session is not known yet") from None
        events = files.transcript_events(data, intent.session_id, intent.meeting_id, start)
    else:
        raise files.FileRefused(f"unknown download kind {intent.kind!r}")
    for first in range(0, len(events), BATCH):
        valid = check_batch(events[first : first + BATCH], now)
        async with state.db.write() as conn:
            await accept(conn, account_id, app.app_id, valid, now,
                         state.settings.session_end_grace_ms)  # fmt: skip
    return len(events)


async def reconcile_downloads(state: AppState, enqueued_before: int, started_before: int) -> int:
    """Enqueue every due download without a live job, and forget old deliveries."""
    now = now_ms()
    async with state.db.read() as conn:
        due = await repo.downloads_without_job(conn, now, enqueued_before, started_before)
        apps = {pk: (account, app_id) for pk, account, app_id in await list_apps(conn)}
    for intent in due:
        account, app_id = apps[intent.app_pk]
        await enqueue_download(state, intent.app_pk, account, app_id, intent.session_id,
                               intent.kind, intent.requested_at)  # fmt: skip
    if due:
        log.info("enqueued %d RealtimeKit downloads without a live job", len(due))
    async with state.db.write() as conn:
        await repo.forget_deliveries(conn, now - DELIVERIES_KEPT_MS)
    return len(due)
