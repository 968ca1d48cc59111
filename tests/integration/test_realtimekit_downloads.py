"""RealtimeKit file downloads against the real database and a loopback HTTPS server: a
passing failure is tried again after a wait (and only then), a lasting one is recorded as
failed after RTK_FETCH_ATTEMPTS tries, and a download that succeeds stores its events."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from https_files import Files, certificates, serving_files
from rtk_sessions.auth.repo import ensure_app
from rtk_sessions.config import Settings
from rtk_sessions.integrations import webhook_repo as repo
from rtk_sessions.integrations.realtimekit_downloads import run_download
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.upkeep.jobs import build_state

ACCOUNT = "acct-rtk-downloads"
SESSION = "0f8e7a4c-2b1d-4e5f-9a6b-7c8d9e0f1a2b"
CHAT = (
    b"id,participantId,sessionId,meetingId,displayName,pinned,isEdited,payloadType,payload,"
    b"createdAt\r\nm1,peer-1," + SESSION.encode() + b",meet-1,Pat,false,false,TEXT_MESSAGE,"
    b"hello,2026-01-05T10:00:00.000Z\r\n"
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Files, Path]]:
    ca, cert, key = certificates(tmp_path_factory.mktemp("tls"))
    with serving_files(cert, key) as served:
        yield served, ca


@pytest.fixture
def state(db: Database, tmp_path: Path, files: tuple[Files, Path]) -> Iterator[AppState]:
    settings = Settings(
        data_dir=tmp_path, database_url=db.url, job_workers=0, fetch_allow_private=True,
        fetch_ca_file=str(files[1]), fetch_attempts=2,
    )  # fmt: skip
    yield dataclasses.replace(build_state(settings), db=db)


async def _intent(state: AppState, app_id: str, url: str) -> int:
    now = now_ms()
    async with state.db.write() as conn:
        pk = await ensure_app(conn, ACCOUNT, app_id, now)
        await repo.request_download(conn, pk, SESSION, "chat", "meet-1", url, None, now)
    return pk


async def _row(state: AppState, pk: int) -> repo.DownloadRow:
    async with state.db.read() as conn:
        row = await repo.get_download(conn, pk, SESSION, "chat")
    assert row is not None
    return row


async def test_a_passing_failure_waits_then_succeeds(
    state: AppState, app_id: str, files: tuple[Files, Path]
) -> None:
    served = files[0]
    path = f"/{app_id}/chat.csv"
    served.bodies[path], served.failures[path] = CHAT, [503]
    pk = await _intent(state, app_id, served.base_url + path + "?sig=secret")
    assert await run_download(state, pk, ACCOUNT, app_id, SESSION, "chat") is False
    row = await _row(state, pk)
    assert (row.status, row.attempts, row.error) == ("PENDING", 1, "the server answered HTTP 503")
    assert 25_000 < row.next_attempt_at - now_ms() <= 30_000
    async with state.db.read() as conn:
        due_now = await repo.downloads_without_job(conn, now_ms(), now_ms(), now_ms())
        due_later = await repo.downloads_without_job(conn, now_ms() + 31_000, 0, 0)
    assert (row.app_pk, SESSION) not in {(r.app_pk, r.session_id) for r in due_now}
    assert (row.app_pk, SESSION) in {(r.app_pk, r.session_id) for r in due_later}
    assert await run_download(state, pk, ACCOUNT, app_id, SESSION, "chat") is True
    row = await _row(state, pk)
    assert (row.status, row.attempts, row.error) == ("DONE", 2, None)
    assert await run_download(state, pk, ACCOUNT, app_id, SESSION, "chat") is True  # no-op
    assert served.hits(path) == 2


async def test_a_lasting_failure_is_recorded_after_the_last_try(
    state: AppState, app_id: str, files: tuple[Files, Path]
) -> None:
    served = files[0]
    path = f"/{app_id}/chat.csv"
    served.failures[path] = [502, 502, 502]
    pk = await _intent(state, app_id, served.base_url + path)
    for _ in range(2):
        assert await run_download(state, pk, ACCOUNT, app_id, SESSION, "chat") is False
    row = await _row(state, pk)
    assert (row.status, row.attempts) == ("FAILED", 2)
    assert served.hits(path) == 2


async def test_a_client_error_fails_at_once(
    state: AppState, app_id: str, files: tuple[Files, Path]
) -> None:
    served = files[0]
    pk = await _intent(state, app_id, served.base_url + f"/{app_id}/expired.csv")
    assert await run_download(state, pk, ACCOUNT, app_id, SESSION, "chat") is False
    row = await _row(state, pk)
    assert (row.status, row.attempts, row.error) == ("FAILED", 1, "the server answered HTTP 404")
