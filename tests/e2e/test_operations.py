"""Operations as they happen in a running server: the idle sweep and readiness."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from rtk_sessions.kit.migrate import upgrade
from support import PG_ENV, drop_database, fresh_postgres_database, running_server

pytestmark = pytest.mark.e2e


def _wait_for(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_the_idle_sweep_closes_a_silent_session(tmp_path: Path, database_url: str) -> None:
    settings = {
        "RTK_SESSION_IDLE_TIMEOUT": "2s",
        "RTK_SWEEP_INTERVAL": "0.3s",
        # A deployment of its own (kit/exclusive.py): the shared test server on this database
        # holds the sweep lock of the default queue, with a sweep every hour.
        "RTK_JOBS_QUEUE": f"rtk-test-{uuid.uuid4().hex[:8]}",
    }
    with running_server(tmp_path, database_url, **settings) as srv:
        token = srv.token("acct-sweep", "ingest", "read", app="app-sweep")
        headers = {"Authorization": f"Bearer {token}"}
        joined = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
        event = {
            "id": "j1",
            "type": "peer.joined",
            "meeting_id": "m-sweep",
            "occurred_at": joined,
            "peer_id": "p1",
            "display_name": "Quiet",
        }
        base = srv.base_url
        posted = httpx.post(
            f"{base}/ingest/v1/accounts/acct-sweep/apps/app-sweep/events",
            json=[event],
            headers=headers,
            timeout=10,
        )
        assert posted.status_code == 200, posted.text
        url = f"{base}/accounts/acct-sweep/realtime/kit/app-sweep/sessions"

        def session() -> dict[str, Any]:
            [row] = httpx.get(url, headers=headers, timeout=10).json()["data"]["sessions"]
            return dict(row)

        assert session()["status"] == "LIVE"
        assert _wait_for(lambda: session()["status"] == "ENDED", 15), session()
        # The inferred leave is at the peer's own last event: its join, so zero minutes.
        assert (session()["ended_at"], session()["minutes_consumed"]) == (joined, 0)


@pytest.mark.skipif(not os.environ.get(PG_ENV), reason="needs PostgreSQL (the second run)")
def test_healthz_says_503_when_the_database_is_gone(tmp_path: Path) -> None:
    admin_url = os.environ[PG_ENV]
    with fresh_postgres_database(admin_url) as url:
        upgrade(url)
        with running_server(tmp_path, url) as srv:
            assert httpx.get(f"{srv.base_url}/healthz", timeout=5).json() == {
                "status": "ok",
                "db": "ok",
                "jobs": "ok",
            }
            drop_database(admin_url, url)
            resp = httpx.get(f"{srv.base_url}/healthz", timeout=5)
            assert resp.status_code == 503
            assert resp.json()["db"] == "failing" and resp.json()["status"] == "unavailable"
