"""A requested summary survives the server dying: with the job queued, and with it running."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cloudflare
import pytest

from files_scenario import ACCOUNT, build, download, ingest, sdk, session_of, wait_for_summary
from support import running_server, running_worker

pytestmark = pytest.mark.e2e


def own_queue() -> str:
    """A queue of this test's own: the shared test server (same database, and on the
    PostgreSQL run the same Redis) must not take its job, nor write its files elsewhere."""
    return f"rtk-test-{uuid.uuid4().hex[:8]}"


def _request_then_kill(data_dir: Path, database_url: str, **settings: str) -> tuple[str, str]:
    """Start a server, ask for a summary, kill -9 the server; returns (app, session id)."""
    with running_server(data_dir, database_url, **settings) as srv:
        sc = build(f"app-{uuid.uuid4().hex[:8]}")
        ingest(srv, sc.app, sc.events)
        client = sdk(srv, srv.token(ACCOUNT, "read", "admin", app=sc.app))
        sid = session_of(client, sc, sc.meeting)
        resp = client.realtime_kit.sessions.generate_summary_of_transcripts(
            sid, account_id=ACCOUNT, app_id=sc.app
        )
        assert resp.data is not None and resp.data.status == "PROCESSING"
        if "RTK_SUMMARY_LLM_URL" in settings:  # wait until the job is running (stuck in the LLM)
            deadline = time.monotonic() + 20
            while not SlowLLM.called.is_set():
                assert time.monotonic() < deadline, "the job never started"
                time.sleep(0.1)
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


def test_a_separate_worker_process_runs_the_jobs(tmp_path: Path, database_url: str) -> None:
    """At scale: API processes only enqueue (RTK_JOB_WORKERS=0); `rtk-sessions worker` runs."""
    queue = own_queue()
    with running_server(tmp_path, database_url, RTK_JOB_WORKERS="0", RTK_JOBS_QUEUE=queue) as srv:
        sc = build(f"app-{uuid.uuid4().hex[:8]}")
        ingest(srv, sc.app, sc.events)
        client = sdk(srv, srv.token(ACCOUNT, "read", "admin", app=sc.app))
        sid = session_of(client, sc, sc.meeting)
        client.realtime_kit.sessions.generate_summary_of_transcripts(
            sid, account_id=ACCOUNT, app_id=sc.app
        )
        time.sleep(1)
        with pytest.raises(cloudflare.NotFoundError, match="being generated"):
            client.realtime_kit.sessions.get_session_summary(sid, account_id=ACCOUNT, app_id=sc.app)
        with running_worker(srv.env, tmp_path / "worker.log") as worker:
            data = wait_for_summary(client, sc, sid, seconds=60)
            assert "## Meeting Summary" in download(data.summary_download_url).text
        assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
