"""One deployment of several processes on the engines it uses at scale: two API processes
(one of them `serve --workers 2`) and an `rtk-sessions worker`, sharing a PostgreSQL
database, huey and the rate-limit budgets on Redis, and an S3 bucket (a moto server).

Events go in through one API process and are read through the other with the official SDK;
a summary requested from an API process (which runs no jobs) is made by the worker. The API
process holding the sweep lock is killed (SIGKILL, its whole process group) while a client
ingests batches, retrying each on the other process until it is answered 200: every batch
acknowledged is stored and derived, and the idle sweep and the upkeep loop go on, once per
interval across all processes, in a process that is still alive.

Only PostgreSQL with Redis is such a deployment, so this runs in the PostgreSQL run of
`make test` (tests/run_postgres.py gives it both) and is skipped in the SQLite run.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from files_scenario import ACCOUNT, build, sdk, session_of, wait_for_summary
from support import (
    JOBS_ENV,
    PG_ENV,
    Server,
    fresh_postgres_database,
    running_worker,
    s3_bucket,
    server_env,
    spawned,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (os.environ.get(PG_ENV) and os.environ.get(JOBS_ENV)),
        reason="a deployment of several processes needs PostgreSQL and Redis: "
        "runs in the PostgreSQL run (tests/run_postgres.py)",
    ),
]

BUCKET = "rtk-multi"
INTERVAL = 0.2  # of the idle sweep and of upkeep, in seconds
BATCHES = 60
T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
TOOK_SWEEP = "this process now runs the sweep of the deployment"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(*servers: Server) -> None:
    deadline = time.monotonic() + 40
    for srv in servers:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{srv.base_url}/healthz", timeout=1).status_code == 200:
                    break
            assert srv.proc.poll() is None, srv.log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"not ready in 40 s: {srv.log.read_text()[-3000:]}"
            time.sleep(0.1)


def _passes(srv: Server) -> dict[str, float]:
    """rtk_background_passes_total by loop, added up over every process of this host."""
    text = httpx.get(f"{srv.base_url}/metrics", timeout=5).text
    found = re.findall(r'^rtk_background_passes_total\{loop="(\w+)"\} (\S+)$', text, re.M)
    return {loop: float(value) for loop, value in found}


def _batch(i: int) -> tuple[str, list[dict[str, Any]]]:
    """A complete meeting: two peers for ten minutes each, so 20 minutes, 2 at most."""
    meeting = str(uuid.UUID(int=i + 1))
    start = T0 + timedelta(hours=i)
    at = [(start + timedelta(minutes=m)).isoformat().replace("+00:00", "Z") for m in (0, 10)]
    events: list[dict[str, Any]] = []
    for peer in ("a", "b"):
        events += [
            {"id": f"{i}-{peer}-j", "type": "peer.joined", "meeting_id": meeting,
             "occurred_at": at[0], "peer_id": f"{i}-{peer}", "display_name": peer},
            {"id": f"{i}-{peer}-l", "type": "peer.left", "meeting_id": meeting,
             "occurred_at": at[1], "peer_id": f"{i}-{peer}"},
        ]  # fmt: skip
    return meeting, events


class Client:
    """Ingests BATCHES batches, alternating between the API processes; a batch that is not
    answered 200 goes to the other one, until one answers 200 (acknowledged)."""

    def __init__(self, servers: list[Server], app: str, token: str) -> None:
        self.servers = servers
        self.path = f"/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.acknowledged: list[str] = []
        self.failures = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(timeout=10) as http:
                for i in range(BATCHES):
                    self._send(http, i)
        except BaseException as exc:  # reported by the test thread
            self.error = exc

    def _send(self, http: httpx.Client, i: int) -> None:
        meeting, events = _batch(i)
        for attempt in range(20):
            srv = self.servers[(i + attempt) % len(self.servers)]
            try:
                resp = http.post(srv.base_url + self.path, json=events, headers=self.headers)
            except httpx.TransportError:
                self.failures += 1
                continue
            if resp.status_code == 200:
                self.acknowledged.append(meeting)
                return
            assert resp.status_code >= 500, resp.text  # a 4xx would be our mistake
            self.failures += 1
        raise AssertionError(f"batch {i} was never acknowledged")


def test_one_deployment_of_several_processes(tmp_path: Path) -> None:
    queue = f"rtk-test-{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack:
        endpoint = stack.enter_context(s3_bucket(BUCKET))
        url = stack.enter_context(fresh_postgres_database(os.environ[PG_ENV]))
        settings = {
            "RTK_JOBS_QUEUE": queue,
            "RTK_RATE_LIMIT_STORAGE": os.environ[JOBS_ENV],
            "RTK_BLOB_URL": f"s3://{BUCKET}/rtk",
            "RTK_S3_ENDPOINT_URL": endpoint,
            "RTK_S3_PATH_STYLE": "true",
            "RTK_S3_ACCESS_KEY_ID": "testing",
            "RTK_S3_SECRET_ACCESS_KEY": "testing",
            "RTK_METRICS_DIR": str(tmp_path / "metrics"),  # one host: one directory
            "RTK_SWEEP_INTERVAL": str(INTERVAL),
            "RTK_RECONCILE_INTERVAL": str(INTERVAL),
            "RTK_CPU_WORKERS": "1",
        }
        servers = []
        # Both API processes start at once on the new database: both migrate it.
        for name, args in (("a", ["--workers", "2"]), ("b", [])):
            port = _free_port()
            env = server_env(
                tmp_path / name, url, RTK_PORT=str(port), RTK_JOB_WORKERS="0", **settings
            )
            cmd = [sys.executable, "-m", "rtk_sessions", "serve", *args]
            log = tmp_path / f"{name}.log"
            proc = stack.enter_context(spawned(cmd, env, log))
            servers.append(Server(f"http://127.0.0.1:{port}", env, proc, log))
        worker_env = server_env(tmp_path / "w", url, **settings)
        stack.enter_context(running_worker(worker_env, tmp_path / "worker.log"))
        _wait_ready(*servers)
        a, b = servers

        # Through A in, through B out (strict SDK), files in S3, the summary by the worker.
        sc = build(f"app-{uuid.uuid4().hex[:8]}")
        load_app = f"app-{uuid.uuid4().hex[:8]}"
        with ThreadPoolExecutor(2) as pool:  # two CLI runs at once
            made = pool.submit(a.token, ACCOUNT, "ingest", "read", "admin", app=sc.app)
            load_token = b.token(ACCOUNT, "ingest", "read", app=load_app)
            token = made.result()
        resp = httpx.post(
            f"{a.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{sc.app}/events",
            json=sc.events,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        client = sdk(b, token)
        sid = session_of(client, sc, sc.meeting)
        sessions = client.realtime_kit.sessions
        chat = sessions.get_session_chat(sid, account_id=ACCOUNT, app_id=sc.app)
        assert chat.data is not None and chat.data.chat_download_url.startswith(endpoint)
        assert httpx.get(chat.data.chat_download_url, timeout=30).status_code == 200
        sessions.generate_summary_of_transcripts(sid, account_id=ACCOUNT, app_id=sc.app)

        # Kill the API process running the sweep, while batches go in.
        deadline = time.monotonic() + 10
        while not any(TOOK_SWEEP in s.log.read_text() for s in servers):
            assert time.monotonic() < deadline, "no API process took the sweep"
            time.sleep(0.05)
        victim, survivor = (a, b) if TOOK_SWEEP in a.log.read_text() else (b, a)
        before, started = _passes(survivor), time.monotonic()
        ingesting = Client([victim, survivor], load_app, load_token)
        thread = threading.Thread(target=ingesting.run)
        thread.start()
        try:
            while len(ingesting.acknowledged) < BATCHES // 3 and thread.is_alive():
                time.sleep(0.01)
            os.killpg(victim.proc.pid, signal.SIGKILL)
        finally:
            thread.join(60)
        assert not thread.is_alive() and ingesting.error is None, ingesting.error
        assert ingesting.failures > 0  # some batches did meet the dead process
        victim.proc.wait()

        # Every acknowledged batch is stored and derived, read through the survivor.
        assert len(ingesting.acknowledged) == BATCHES
        reader = sdk(survivor, load_token).realtime_kit.sessions
        found: dict[str, Any] = {}
        for page in (1, 2):
            listed = reader.get_sessions(load_app, account_id=ACCOUNT, per_page=50, page_no=page)
            found |= {s.associated_id: s for s in listed.data.sessions}
        assert set(found) == set(ingesting.acknowledged)
        for s in found.values():
            assert (s.status, s.minutes_consumed, s.max_concurrent_participants) == (
                "ENDED",
                20,
                2,
            )
        one = found[ingesting.acknowledged[-1]]
        people = reader.get_session_participants(one.id, account_id=ACCOUNT, app_id=load_app)
        assert people.data is not None and people.data.participants is not None
        assert sorted(p.display_name or "" for p in people.data.participants) == ["a", "b"]

        summary = wait_for_summary(sdk(survivor, token), sc, sid, seconds=30)
        text = httpx.get(summary.summary_download_url, timeout=30)
        assert text.status_code == 200 and "## Meeting Summary" in text.text
        worker_log = (tmp_path / "worker.log").read_text()
        assert "rtk_sessions.runtime.summary" in worker_log and "executing" in worker_log.lower()

        # The sweep and upkeep went on in a living process, once per interval in all:
        # three processes could sweep and four could do upkeep, each on its own timer.
        deadline = time.monotonic() + 10
        while TOOK_SWEEP not in survivor.log.read_text():  # it takes over from the victim
            assert time.monotonic() < deadline, "the sweep was not taken over"
            time.sleep(0.05)
        time.sleep(2 * INTERVAL)
        after, elapsed = _passes(survivor), time.monotonic() - started
        for loop in ("sweep", "upkeep"):
            ran = after.get(loop, 0) - before.get(loop, 0)
            assert elapsed / INTERVAL / 8 < ran <= elapsed / INTERVAL + 3, (loop, ran, elapsed)
