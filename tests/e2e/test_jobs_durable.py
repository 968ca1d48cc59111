"""A requested summary survives the server dying: with the job queued, and with it running."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cloudflare
import pytest
from cloudflare import Cloudflare

import support
from files_scenario import (
    ACCOUNT,
    Scenario,
    build,
    download,
    ingest,
    sdk,
    session_of,
    wait_for_summary,
)
from rtk_sessions.kit.jobs import make_huey
from support import Server, running_server, spawned

pytestmark = pytest.mark.e2e


def own_queue() -> str:
    """A queue of this test's own: the shared test server (same database, and on the
    PostgreSQL run the same Redis) must not take its job, nor write its files elsewhere."""
    return f"rtk-test-{uuid.uuid4().hex[:8]}"


def _request_summary(srv: Server) -> tuple[Scenario, Cloudflare, str]:
    sc = build(f"app-{uuid.uuid4().hex[:8]}")
    ingest(srv, sc.app, sc.events)
    client = sdk(srv, srv.token(ACCOUNT, "read", "admin", app=sc.app))
    sid = session_of(client, sc, sc.meeting)
    resp = client.realtime_kit.sessions.generate_summary_of_transcripts(
        sid, account_id=ACCOUNT, app_id=sc.app
    )
    assert resp.data is not None and resp.data.status == "PROCESSING"
    return sc, client, sid


def _wait_until_the_llm_is_called() -> None:
    deadline = time.monotonic() + 30
    while not SlowLLM.called.is_set():
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)


def _request_then_kill(data_dir: Path, database_url: str, **settings: str) -> tuple[str, str]:
    """Start a server, ask for a summary, kill -9 the server; returns (app, session id)."""
    with running_server(data_dir, database_url, **settings) as srv:
        sc, _, sid = _request_summary(srv)
        if "RTK_SUMMARY_LLM_URL" in settings:  # wait until the job is running (stuck in the LLM)
            _wait_until_the_llm_is_called()
        srv.proc.kill()
        srv.proc.wait(timeout=10)
    return sc.app, sid


def _completes_after_restart(
    data_dir: Path, database_url: str, app: str, sid: str, queue: str
) -> None:
    with running_server(data_dir, database_url, RTK_JOBS_QUEUE=queue) as srv:
        client = sdk(srv, srv.token(ACCOUNT, "read", app=app))
        sc = build(app)
        data = wait_for_summary(client, sc, sid, seconds=60)
        assert "## Meeting Summary" in download(data.summary_download_url).text


def test_queued_summary_completes_after_restart(tmp_path: Path, database_url: str) -> None:
    # No workers in the first process: the job can only be queued when the server dies.
    queue = own_queue()
    app, sid = _request_then_kill(tmp_path, database_url, RTK_JOB_WORKERS="0", RTK_JOBS_QUEUE=queue)
    _completes_after_restart(tmp_path, database_url, app, sid, queue)


class SlowLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that never answers in time: the job hangs inside it."""

    called = threading.Event()

    def do_POST(self) -> None:
        SlowLLM.called.set()
        time.sleep(30)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def slow_llm() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SlowLLM)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_running_summary_completes_after_restart(tmp_path: Path, database_url: str) -> None:
    SlowLLM.called.clear()
    queue = own_queue()
    with slow_llm() as url:
        app, sid = _request_then_kill(
            tmp_path,
            database_url,
            RTK_SUMMARY_LLM_URL=url,
            RTK_SUMMARY_LLM_TIMEOUT="60",
            RTK_JOBS_QUEUE=queue,
        )
    # The restarted server has no LLM configured: the request is re-enqueued at start-up
    # (its job started in a process that no longer exists) and the extractive summarizer
    # finishes it.
    _completes_after_restart(tmp_path, database_url, app, sid, queue)


WORKER = [sys.executable, "-m", "rtk_sessions", "worker", "--workers", "1"]


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: a start-up pass re-enqueues every unfinished request it
    finds (docs/jobs.md), and those of other tests must not reach this test's slow LLM."""
    with support.own_database(tmp_path) as url:
        yield url


def _as_a_background_job() -> None:
    """What a shell does to a command started with `&`: SIGINT ignored, inherited."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _queued(env: dict[str, str], queue: str, session_id: str) -> list[str]:
    """Ids of the jobs for this session waiting in the test's own queue, read from storage."""
    huey = make_huey(env.get("RTK_JOBS_URL", ""), Path(env["RTK_DATA_DIR"]), queue)
    try:
        messages = [huey.serializer.deserialize(m) for m in huey.storage.enqueued_items()]
    finally:
        huey.storage.close()
    return [m.id for m in messages if session_id in m.args]


def _stops_in_time(proc: subprocess.Popen[bytes], sig: int, log: Path) -> int | None:
    """Send `sig`; the exit status, once the process is gone, within the 10 s promised."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running 10 s after {signal.Signals(sig).name}:\n"
                             + log.read_text()[-3000:]) from None  # fmt: skip


def test_a_separate_worker_process_runs_the_jobs(tmp_path: Path, database_url: str) -> None:
    """At scale: API processes only enqueue (RTK_JOB_WORKERS=0); `rtk-sessions worker` runs,
    and stops on Ctrl-C even when started in the background (SIGINT ignored)."""
    queue = own_queue()
    with running_server(tmp_path, database_url, RTK_JOB_WORKERS="0", RTK_JOBS_QUEUE=queue) as srv:
        sc, client, sid = _request_summary(srv)
        time.sleep(1)
        with pytest.raises(cloudflare.NotFoundError, match="being generated"):
            client.realtime_kit.sessions.get_session_summary(sid, account_id=ACCOUNT, app_id=sc.app)
        log = tmp_path / "worker.log"
        with spawned(WORKER, srv.env, log, preexec_fn=_as_a_background_job) as worker:
            data = wait_for_summary(client, sc, sid, seconds=60)
            assert "## Meeting Summary" in download(data.summary_download_url).text
            assert _stops_in_time(worker, signal.SIGINT, log) == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_worker_puts_its_running_job_back(
    tmp_path: Path, own_database: str, sig: int
) -> None:
    """A worker told to stop while its job hangs in the LLM exits within 10 s and puts the
    job back in the queue, where another worker (already running, say) takes it."""
    SlowLLM.called.clear()
    queue = own_queue()
    with (
        running_server(tmp_path, own_database, RTK_JOB_WORKERS="0", RTK_JOBS_QUEUE=queue) as srv,
        slow_llm() as url,
    ):
        sc, client, sid = _request_summary(srv)
        [job] = _queued(srv.env, queue, sid)
        slow = {**srv.env, "RTK_SUMMARY_LLM_URL": url, "RTK_SUMMARY_LLM_TIMEOUT": "60"}
        log = tmp_path / "worker-slow.log"
        with spawned(WORKER, slow, log, preexec_fn=_as_a_background_job) as worker:
            _wait_until_the_llm_is_called()
            assert _stops_in_time(worker, sig, log) == 0, log.read_text()[-3000:]
        # The very job it was running (its start-up pass may have queued a copy: docs/jobs.md).
        assert job in _queued(srv.env, queue, sid), log.read_text()[-3000:]
        with spawned(WORKER, srv.env, tmp_path / "worker.log") as worker:
            data = wait_for_summary(client, sc, sid, seconds=60)
            assert "## Meeting Summary" in download(data.summary_download_url).text


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_stops_in_time_with_a_job_running(
    tmp_path: Path, own_database: str, sig: int
) -> None:
    SlowLLM.called.clear()
    queue = own_queue()
    with slow_llm() as url:
        settings = {"RTK_SUMMARY_LLM_URL": url, "RTK_SUMMARY_LLM_TIMEOUT": "60",
                    "RTK_JOBS_QUEUE": queue, "RTK_JOB_WORKERS": "1"}  # fmt: skip
        with running_server(tmp_path, own_database, **settings) as srv:
            sc, _, sid = _request_summary(srv)
            _wait_until_the_llm_is_called()
            assert _queued(srv.env, queue, sid) == []
            # uvicorn ends by re-raising SIGTERM at itself, as a supervisor expects.
            assert _stops_in_time(srv.proc, sig, srv.log) in (0, -signal.SIGTERM)
        assert len(_queued(srv.env, queue, sid)) == 1
    _completes_after_restart(tmp_path, own_database, sc.app, sid, queue)
