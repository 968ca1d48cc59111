"""Everything a real server creates under its data directory is its user's alone: directories
0700, files 0600 (the SQLite database with its -wal and -shm files, the job queue, the signing
key, built files), even when the process was started with the usual umask 022."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from files_scenario import ACCOUNT, build, ingest, sdk, session_of, wait_for_summary
from support import JOBS_ENV, running_server

pytestmark = pytest.mark.e2e


@contextmanager
def umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def test_the_data_directory_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"  # created by the server, not by the test
    app = f"app-{uuid.uuid4().hex[:8]}"
    with umask(0o022), running_server(data, "", log_dir=tmp_path) as srv:
        sc = build(app)
        ingest(srv, app, sc.events)
        client = sdk(srv, srv.token(ACCOUNT, "read", "admin", app=app))
        s = client.realtime_kit.sessions
        sid = session_of(client, sc, sc.meeting)
        chat = s.get_session_chat(sid, account_id=ACCOUNT, app_id=app)
        assert chat.data is not None
        assert httpx.get(chat.data.chat_download_url, timeout=30).status_code == 200
        s.get_session_transcripts(sid, account_id=ACCOUNT, app_id=app, format="VTT")
        s.generate_summary_of_transcripts(sid, account_id=ACCOUNT, app_id=app)
        wait_for_summary(client, sc, sid)
        created = sorted(data.rglob("*"))  # while running: -wal and -shm exist now
    names = {p.name for p in created}
    expected = {"rtk.db", "rtk.db-wal", "rtk.db-shm", "signing.key"}
    if not os.environ.get(JOBS_ENV):  # the queue is a SQLite file unless tests use Redis
        expected.add("jobs.db")
    assert expected <= names, names
    assert any(p.suffix == ".csv" for p in created) and any(p.suffix == ".vtt" for p in created)
    loose = [
        f"{p.relative_to(tmp_path)} {stat.filemode(p.stat().st_mode)}"
        for p in [data, *created]
        if p.exists() and p.stat().st_mode & 0o077
    ]
    assert not loose, loose
