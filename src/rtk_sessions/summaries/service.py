"""Summaries: durable requests, a job that writes the file, and links to the latest one.

States (docs/jobs.md, docs/api-decisions.md): a POST writes the intent (PROCESSING) in its own
transaction and then enqueues; a repeat for the same transcript does no new work; a changed
transcript gets a new summary while the previous one keeps being served; a failure is shown
as 404 "summary generation failed: <reason>; POST to retry", and a POST retries it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.auth.repo import list_apps, summarizes_on_end
from rtk_sessions.config import Settings
from rtk_sessions.files.service import (
    FileSpec,
    check_not_expired,
    expiry_of,
    fingerprint_of,
    link_for,
    record_file,
    store_file,
)
from rtk_sessions.kit import cpu
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.blobs import BlobMissing, Link
from rtk_sessions.kit.db import Reading, serialize_on
from rtk_sessions.kit.errors import NotFound, RtkError
from rtk_sessions.kit.redact import redacted_logger
from rtk_sessions.kit.state import AppState, worker_state
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.sessions.accounting import interval_ms
from rtk_sessions.sessions.repo import SessionRow
from rtk_sessions.sessions.service import find_session
from rtk_sessions.sessions.webhook_changes import stored_state
from rtk_sessions.summaries import repo
from rtk_sessions.summaries.model import SummaryError, Utterance
from rtk_sessions.summaries.render import file_name
from rtk_sessions.summaries.repo import (
    COMPLETED,
    FAILED,
    INTERNAL_REASON,
    ON_END,
    PROCESSING,
    SummaryRow,
    public_reason,
)
from rtk_sessions.summaries.summarizers import summarizer_from_settings
from rtk_sessions.transcripts.formats import speaker_name
from rtk_sessions.transcripts.repo import SegmentRow
from rtk_sessions.transcripts.service import load_transcript, transcript_fingerprint
from rtk_sessions.webhooks.outbox import owe_file_ready

log = redacted_logger("rtk_sessions.summaries")
JOB = "summary"


async def request_summary(
    state: AppState, app: AppRef, session_id: str, now: int
) -> tuple[str, str]:
    """(session id, PROCESSING or COMPLETED); enqueues a job only when there is new work."""
    found, wanted = await cpu.run(
        cpu.REQUESTS, wanted_summary, state.settings, app, session_id, now
    )
    async with state.db.write() as conn:
        await serialize_on(conn, app.pk, f"summary:{found}")
        current = await repo.get(conn, app.pk, found)
        if current is not None:
            if current.status == PROCESSING and current.requested_fingerprint == wanted:
                return found, PROCESSING
            if current.status == COMPLETED and current.ready_fingerprint == wanted:
                return found, COMPLETED
        await repo.request(conn, app.pk, found, wanted, now)
    await enqueue(state, app, found, now)
    return found, PROCESSING


def wanted_summary(settings: Settings, app: AppRef, session_id: str, now: int) -> tuple[str, str]:
    """(session id, fingerprint of the transcript its summary is made from), in a worker
    process (kit/cpu.py): loading and hashing a long transcript takes seconds."""

    async def main() -> tuple[str, str]:
        state = worker_state(settings)
        try:
            async with state.db.read() as conn:
                session, rows = await load_transcript(state, conn, app, session_id, now)
            check_not_expired(state, session, "summary", now)
            return session.id, summary_fingerprint(state, session, rows)
        finally:
            await state.db.dispose()

    return asyncio.run(main())


async def enqueue(state: AppState, app: AppRef, session_id: str, requested_at: int) -> None:
    """Hand a written request to the queue; if that fails, the reconciler retries it later."""
    try:
        await asyncio.to_thread(state.jobs.enqueue, JOB, app.pk, app.app_id, session_id)
    except Exception:
        log.exception("could not enqueue the summary of %s; the reconciler will", session_id)
        return
    async with state.db.write() as conn:
        await repo.mark(conn, app.pk, session_id, requested_at, enqueued_at=now_ms())


def summary_fingerprint(state: AppState, session: SessionRow, rows: list[SegmentRow]) -> str:
    """The transcript and the settings that shape the text; either changing means new work."""
    s = state.settings
    return fingerprint_of(
        transcript_fingerprint(session, rows),
        s.summary_format,
        s.summary_word_limit,
        s.summary_llm_url,
        s.summary_llm_model,
    )


async def ready_summary(
    state: AppState, conn: AsyncConnection, app: AppRef, session_id: str, now: int
) -> tuple[SessionRow, str]:
    """The blob key of the latest finished summary, or 404 saying why there is none."""
    session = await find_session(conn, app, session_id)
    check_not_expired(state, session, "summary", now)
    row = await repo.get(conn, app.pk, session.id)
    if row is None:
        raise NotFound(f"Session {session.id} has no summary; POST to generate one")
    if row.status == FAILED:
        raise NotFound(f"summary generation failed: {row.error}; POST to retry")
    if row.ready_key is None:
        raise NotFound(f"The summary of session {session.id} is being generated; try again soon")
    return session, row.ready_key


SHOWN_SUMMARY_BYTES = 200_000  # a summary is a few hundred words; a page shows at most this


@dataclass(frozen=True)
class SummaryView:
    """What the dashboard shows of a session's summary: `status` is PROCESSING, COMPLETED,
    FAILED or None (never asked for); `text` is the latest finished one, if any."""

    status: str | None
    text: str | None
    error: str | None


async def summary_view(
    state: AppState, reading: Reading, app: AppRef, session: SessionRow
) -> SummaryView:
    """The summary's state, read in the caller's read transaction, which this ends before
    it reads the summary's file (a round trip on S3 holds no database connection)."""
    row = await repo.get(reading.conn, app.pk, session.id)
    await reading.end()
    if row is None:
        return SummaryView(None, None, None)
    text = None
    if row.ready_key is not None:
        try:
            content = await asyncio.to_thread(state.blobs.read_bytes, row.ready_key)
        except BlobMissing:  # purged after its retention: the status still says it was made
            content = None
        if content is not None:
            text = content[:SHOWN_SUMMARY_BYTES].decode("utf-8", "replace")
    return SummaryView(row.status, text, row.error)


async def summary_link(
    state: AppState, reading: Reading, app: AppRef, session_id: str, base_url: str, now: int
) -> tuple[SessionRow, Link]:
    """A link to the latest summary, read in the caller's one read transaction."""
    session, key = await ready_summary(state, reading.conn, app, session_id, now)
    await reading.end()
    return session, await link_for(state, session, key, base_url, now, "summary")


def utterances(session: SessionRow, rows: list[SegmentRow]) -> list[Utterance]:
    return [
        Utterance(
            speaker_name(r.display_name, r.custom_participant_id, r.peer_id),
            r.text,
            max(0, r.started_at - session.started_at),
        )
        for r in rows
    ]


async def run_summary(state: AppState, app: AppRef, session_id: str) -> bool:
    """The job: summarize the current transcript and record it; safe to run twice. A failure
    is recorded for GET to report, not raised; the answer is False then."""
    async with state.db.write() as conn:
        await serialize_on(conn, app.pk, f"summary:{session_id}")
        intent = await repo.get(conn, app.pk, session_id)
        if intent is None or intent.status != PROCESSING:
            return True  # finished by an earlier run of this job
        await repo.mark(conn, app.pk, session_id, intent.requested_at, started_at=now_ms())
    try:
        await _summarize(state, app, intent)
        return True
    except NotFound as exc:
        if intent.requested_fingerprint != ON_END:
            error = public_reason(exc)
        else:
            # Summarize-on-end asked before the transcript was read: a session whose segments
            # are all interim (or that a merge took away) has nothing to summarize.
            async with state.db.write() as conn:
                await repo.drop(conn, app.pk, session_id, intent.requested_at)
            return True
    except (SummaryError, RtkError) as exc:  # reasons fit for clients (docs/security.md)
        error = public_reason(exc)
    except Exception:
        log.exception("summary job for %s failed", session_id)
        error = INTERNAL_REASON
    await _finish(state, app, intent, status=FAILED, error=error)
    return False


async def _summarize(state: AppState, app: AppRef, intent: SummaryRow) -> None:
    s = state.settings
    async with state.db.read() as conn:  # step 2: read the transcript
        session, rows = await load_transcript(state, conn, app, intent.session_id, now_ms())
    fingerprint = summary_fingerprint(state, session, rows)
    if intent.ready_fingerprint == fingerprint:  # e.g. an end after a POST: nothing new
        await _finish(state, app, intent, status=COMPLETED, error=None)
        return
    text = await asyncio.to_thread(
        summarizer_from_settings(s).summarize,
        utterances(session, rows),
        word_limit=s.summary_word_limit,
        text_format=s.summary_format,
        duration_ms=interval_ms(session.started_at, session.ended_at, now_ms()),
    )
    spec = FileSpec(
        "summary", s.summary_format, fingerprint, file_name(session.id, s.summary_format)
    )

    async def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    built = await store_file(state, app.pk, session.id, spec, write, now_ms())
    async with state.db.write() as conn:  # step 3: record the file and finish the request
        await record_file(conn, built, now_ms())
        await repo.store_ready(conn, app.pk, session.id, built.key, fingerprint, now_ms())
        await _mark_done(conn, app, intent, status=COMPLETED, error=None)
        await _owe_webhooks(state, conn, app, session, built.key, fingerprint)


async def store_imported_summary(
    state: AppState, app: AppRef, session_id: str, text: str, now: int, notify: bool = True
) -> None:
    """A summary made elsewhere (RealtimeKit's `meeting.summary`, or its history) becomes the
    session's summary as it is, until a POST asks for one made here (docs/integrations.md).
    `notify=False` (history imports) owes no `meeting.summary`."""
    fingerprint = fingerprint_of("imported", text)
    async with state.db.read() as conn:
        session = await find_session(conn, app, session_id)
        current = await repo.get(conn, app.pk, session.id)
    if current is not None and current.ready_fingerprint == fingerprint:
        return  # the same text again (a retried delivery, a second import)
    spec = FileSpec("summary", "markdown", fingerprint, file_name(session.id, "markdown"))

    async def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    built = await store_file(state, app.pk, session.id, spec, write, now)
    async with state.db.write() as conn:
        await serialize_on(conn, app.pk, f"summary:{session.id}")
        await record_file(conn, built, now)
        await repo.request(conn, app.pk, session.id, fingerprint, now)
        await repo.store_ready(conn, app.pk, session.id, built.key, fingerprint, now)
        await repo.mark(conn, app.pk, session.id, now, status=COMPLETED)
        if notify:
            await _owe_webhooks(state, conn, app, session, built.key, fingerprint)


async def _owe_webhooks(
    state: AppState,
    conn: AsyncConnection,
    app: AppRef,
    session: SessionRow,
    key: str,
    fingerprint: str,
) -> None:
    """`meeting.summary` to the app's webhooks, in the transaction recording the summary."""
    expiry = expiry_of(state, session, "summary")
    await owe_file_ready(
        conn, app, stored_state(session), "meeting.summary", fingerprint[:16], key, expiry, now_ms()
    )


async def _finish(state: AppState, app: AppRef, intent: SummaryRow, **values: object) -> None:
    """Close this request in a transaction of its own (a failed job's last step)."""
    async with state.db.write() as conn:
        await _mark_done(conn, app, intent, **values)


async def _mark_done(
    conn: AsyncConnection, app: AppRef, intent: SummaryRow, **values: object
) -> None:
    """Close this request; a newer request (changed transcript) stays PROCESSING."""
    await repo.mark(
        conn, app.pk, intent.session_id, intent.requested_at, updated_at=now_ms(), **values
    )


async def owe_summaries_on_end(
    conn: AsyncConnection,
    app: AppRef,
    written_sessions: Collection[str],
    segment_ids: Collection[str],
    now: int,
) -> None:
    """In an ingesting transaction, with the sessions it wrote and the transcript segments it
    stored: if the app summarizes on end, ask for the summary of each of those sessions that
    is ENDED and has segments (docs/summaries.md, "Summaries on end"). The summary pump
    enqueues the requests once this commits."""
    if not written_sessions and not segment_ids:
        return
    if not await summarizes_on_end(conn, app.pk):
        return
    for session_id in sorted(
        await repo.ended_with_segments(conn, app.pk, written_sessions, segment_ids)
    ):
        await serialize_on(conn, app.pk, f"summary:{session_id}")  # as a POST does
        await repo.request(conn, app.pk, session_id, ON_END, now)


async def _enqueue_found(
    state: AppState, find: Callable[[AsyncConnection], Awaitable[list[SummaryRow]]]
) -> int:
    """Enqueue the requests `find` reads; returns how many."""
    async with state.db.read() as conn:
        found = await find(conn)
        apps = {pk: app_id for pk, _, app_id in await list_apps(conn)} if found else {}
    for intent in found:
        app = AppRef(intent.app_pk, apps[intent.app_pk])
        await enqueue(state, app, intent.session_id, intent.requested_at)
    return len(found)


async def enqueue_new(state: AppState, requested_before: int) -> int:
    """Enqueue every request written before `requested_before` that nobody enqueued (those
    summarize-on-end wrote; a POST enqueues its own at once); returns how many."""
    return await _enqueue_found(state, lambda conn: repo.unenqueued(conn, requested_before))


async def reconcile(state: AppState, enqueued_before: int, started_before: int) -> int:
    """Enqueue every PROCESSING request without a live job; returns how many."""
    orphans = await _enqueue_found(
        state, lambda conn: repo.intents_without_job(conn, enqueued_before, started_before)
    )
    if orphans:
        log.info("re-enqueued %d summary requests without a live job", orphans)
    return orphans
