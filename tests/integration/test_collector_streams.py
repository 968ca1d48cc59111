"""Live rtcstats against the real database: the upkeep marks ended the open streams whose
process stopped stamping them, and only those; an app's signing secret is made once and
replaced by a rotation."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from rtk_sessions.auth.repo import ensure_app
from rtk_sessions.collector import repo
from rtk_sessions.collector.identity import Who
from rtk_sessions.collector.repo import StreamRow
from rtk_sessions.collector.service import (
    ABANDONED_AFTER_MS,
    end_abandoned_streams,
    mint_stream_token,
    rotate_secret,
)
from rtk_sessions.collector.tokens import TokenRefused, verify
from rtk_sessions.config import Settings
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.upkeep.jobs import build_state


def row(app_pk: int, last_flush_at: int, ended_at: int | None = None) -> StreamRow:
    return StreamRow(
        str(uuid.uuid4()), app_pk, "jitsi", uuid.uuid4().hex, "m", "p", None, 1, 10, 1, 5, 0,
        last_flush_at, last_flush_at, ended_at, None,
    )  # fmt: skip


async def test_abandoned_streams_are_ended(tmp_path: Path, database_url: str, app_id: str) -> None:
    state = build_state(Settings(data_dir=tmp_path, database_url=database_url))
    now = now_ms()
    try:
        async with state.db.write() as conn:
            pk = await ensure_app(conn, "acct-collector", app_id, now)
            old, fresh = row(pk, now - ABANDONED_AFTER_MS - 1), row(pk, now - 1000)
            done = row(pk, now - ABANDONED_AFTER_MS - 1, ended_at=now - 5)
            for r in (old, fresh, done):
                await repo.insert_stream(conn, r)
        await end_abandoned_streams(state, now)
        async with state.db.read() as conn:
            after = {r.id: await repo.get_stream(conn, pk, r.id) for r in (old, fresh, done)}
        assert after[old.id] is not None and (after[old.id].ended_at, after[old.id].close_code) == (
            now,
            1006,
        )
        assert after[fresh.id] is not None and after[fresh.id].ended_at is None
        assert after[done.id] is not None and after[done.id].ended_at == now - 5
    finally:
        await state.db.dispose()


async def test_the_signing_secret_is_made_once_and_rotated(db: Database, app_id: str) -> None:
    who = Who("m", "p")
    first, _ = await mint_stream_token(db, "acct-collector", app_id, who, 60, 3600)
    second, _ = await mint_stream_token(db, "acct-collector", app_id, who, 60, 3600)
    async with db.read() as conn:
        secret = await repo.secret_of_app(conn, "acct-collector", app_id)
    assert secret is not None
    now_s = now_ms() // 1000
    for token in (first, second):
        assert verify(token, secret, now_s=now_s, max_ttl_s=3600).who == who
    await rotate_secret(db, "acct-collector", app_id)
    async with db.read() as conn:
        rotated = await repo.secret_of_app(conn, "acct-collector", app_id)
    assert rotated is not None and rotated != secret
    with pytest.raises(TokenRefused, match="bad signature"):
        verify(first, rotated, now_s=now_s, max_ttl_s=3600)
