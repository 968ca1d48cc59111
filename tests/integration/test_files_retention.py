"""Retention and upkeep against the real database and the local blob store: files expire with
their session, replaced files outlive every link to them, content retention deletes messages
and segments but not sessions, and summary requests without a live job are enqueued again."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtk_sessions.chat import service as chat_service
from rtk_sessions.cli.operations import ingest_events
from rtk_sessions.config import Settings
from rtk_sessions.files.repo import Artifact
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.errors import NotFound
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.sessions.repo import SessionQuery, list_sessions
from rtk_sessions.summaries import repo as summaries_repo
from rtk_sessions.summaries.service import reconcile, request_summary
from rtk_sessions.transcripts import service as transcript_service
from rtk_sessions.upkeep.jobs import build_state
from rtk_sessions.upkeep.maintenance import purge_once

ACCOUNT = "acct-retention"
DAY = 86_400_000
HOUR = 3_600_000


def meeting(ended: int) -> list[dict[str, Any]]:
    start = ended - HOUR
    return [
        {"id": "j", "type": "peer.joined", "meeting_id": "m", "occurred_at": start,
         "peer_id": "p", "display_name": "Pat"},
        {"id": "c1", "type": "chat.message", "meeting_id": "m", "occurred_at": start + 1000,
         "peer_id": "p", "message_id": "m1", "payload": "hello"},
        {"id": "s1", "type": "transcript.segment", "meeting_id": "m", "occurred_at": start + 2000,
         "peer_id": "p", "text": "We decided to ship."},
        {"id": "l", "type": "peer.left", "meeting_id": "m", "occurred_at": ended, "peer_id": "p"},
    ]  # fmt: skip


@pytest.fixture
def state(db: Database, tmp_path: Path) -> Iterator[AppState]:
    built = build_state(Settings(data_dir=tmp_path, database_url=db.url, job_workers=0))
    yield dataclasses.replace(built, db=db)


async def ingest(state: AppState, app_id: str, events: list[dict[str, Any]]) -> tuple[AppRef, str]:
    await ingest_events(state.db, state.settings, ACCOUNT, app_id, events, 100)
    from rtk_sessions.auth.service import resolve_app

    async with state.db.read() as conn:
        app = AppRef(await resolve_app(conn, ACCOUNT, app_id), app_id)
        [session], _ = await list_sessions(conn, app.pk, SessionQuery(), now_ms())
    return app, session.id


async def chat_export(state: AppState, app: AppRef, sid: str, now: int) -> tuple[Any, Artifact]:
    """The chat route's service, in a read transaction of its own as the route has."""
    async with state.db.reading() as reading:
        return await chat_service.chat_export(state, reading, app, sid, now)


async def transcript_export(
    state: AppState, app: AppRef, sid: str, fmt: str, now: int
) -> tuple[Any, Artifact]:
    async with state.db.reading() as reading:
        return await transcript_service.transcript_export(state, reading, app, sid, fmt, now)


def with_settings(state: AppState, **values: Any) -> AppState:
    return dataclasses.replace(state, settings=dataclasses.replace(state.settings, **values))


async def test_files_expire_with_their_session(state: AppState, app_id: str) -> None:
    ended = now_ms() - 3 * DAY
    app, sid = await ingest(state, app_id, meeting(ended))
    _, chat = await chat_export(state, app, sid, now_ms())
    _, transcript = await transcript_export(state, app, sid, "SRT", now_ms())
    assert state.blobs.exists(chat.key) and state.blobs.exists(transcript.key)

    # Day 6 after the end: both files stay. Day 7 + 1 ms: both go. (Other tests share the
    # database, so the purge's counts include their files; this test looks at its own.)
    await purge_once(state, ended + 6 * DAY)
    assert state.blobs.exists(chat.key) and state.blobs.exists(transcript.key)
    assert (await purge_once(state, ended + 7 * DAY + 1))[0] >= 2
    assert not state.blobs.exists(chat.key) and not state.blobs.exists(transcript.key)
    with pytest.raises(NotFound, match=r"expired at .*RTK_CHAT_RETENTION"):
        await chat_export(state, app, sid, ended + 7 * DAY + 1)

    # 0 = keep forever: the same request still builds the file.
    forever = with_settings(state, chat_retention=0.0)
    _, again = await chat_export(forever, app, sid, ended + 30 * DAY)
    assert forever.blobs.read_bytes(again.key).decode().count("hello") == 1


async def test_replaced_files_outlive_their_links(state: AppState, app_id: str) -> None:
    ended = now_ms() - HOUR
    app, sid = await ingest(state, app_id, meeting(ended))
    _, old = await chat_export(state, app, sid, now_ms())
    late = {"id": "c2", "type": "chat.message", "meeting_id": "m", "occurred_at": ended - 10,
            "peer_id": "p", "message_id": "m2", "payload": "late"}  # fmt: skip
    await ingest_events(state.db, state.settings, ACCOUNT, app_id, [late], 100)
    _, new = await chat_export(state, app, sid, now_ms())
    assert new.key != old.key
    ttl = int(state.settings.link_ttl * 1000)
    await purge_once(state, now_ms() + ttl - 60_000)  # a link to the old file may be live
    assert state.blobs.exists(old.key)
    assert (await purge_once(state, now_ms() + ttl + 1000))[0] >= 1
    assert not state.blobs.exists(old.key) and state.blobs.exists(new.key)


async def test_content_retention_deletes_messages_not_sessions(
    state: AppState, app_id: str
) -> None:
    ended = now_ms() - 2 * DAY
    app, sid = await ingest(state, app_id, meeting(ended))
    keep_one_day = with_settings(state, content_retention=86_400.0, chat_retention=0.0)
    # At least this session's message and segment (other tests share the database).
    assert (await purge_once(keep_one_day))[1] >= 2
    with pytest.raises(NotFound, match="has no chat messages"):
        await chat_export(keep_one_day, app, sid, now_ms())
    with pytest.raises(NotFound, match="has no transcript"):
        await transcript_export(keep_one_day, app, sid, "CSV", now_ms())
    async with state.db.read() as conn:
        [session], _ = await list_sessions(conn, app.pk, SessionQuery(), now_ms())
    assert session.id == sid


async def test_requests_without_a_live_job_are_enqueued_again(state: AppState, app_id: str) -> None:
    app, sid = await ingest(state, app_id, meeting(now_ms() - HOUR))
    pending_before = state.jobs.pending()
    assert await request_summary(state, app, sid, now_ms()) == (sid, "PROCESSING")
    assert state.jobs.pending() == pending_before + 1
    async with state.db.read() as conn:
        intent = await summaries_repo.get(conn, app.pk, sid)
    assert intent is not None and intent.enqueued_at is not None

    # Just enqueued and not stale: left alone. Older than the cutoff: enqueued again.
    assert await reconcile(state, intent.enqueued_at, intent.enqueued_at) == 0
    assert await reconcile(state, intent.enqueued_at + 1, 0) >= 1
    assert state.jobs.pending() >= pending_before + 2
