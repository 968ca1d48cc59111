"""Summaries through an OpenAI-compatible endpoint (a small fake server started here): a failed
job is reported by GET, a POST retries it, and the retried summary is the model's text."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cloudflare
import pytest

from files_scenario import ACCOUNT, build, download, ingest, sdk, session_of, wait_for_summary
from support import running_server

pytestmark = pytest.mark.e2e

ANSWER = """## Meeting Summary

The team agreed on a Monday release.

### Key Discussion Points

- Release timing

### Action Items

- @Alice: send the notes by Friday

### Decisions Made

- Ship on Monday
"""


class FakeLLM(BaseHTTPRequestHandler):
    """Refuses the key until `accept` is set, then answers every request with ANSWER."""

    accept = threading.Event()
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        FakeLLM.requests.append(
            {"path": self.path, "auth": self.headers.get("authorization"), **body}
        )
        if not FakeLLM.accept.is_set():
            self._reply(401, {"error": {"message": "invalid api key"}})
            return
        message = {"role": "assistant", "content": ANSWER}
        self._reply(200, {"choices": [{"index": 0, "message": message}]})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def fake_llm() -> Iterator[str]:
    FakeLLM.accept.clear()
    FakeLLM.requests.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_failed_summary_is_reported_and_retried(tmp_path: Path, database_url: str) -> None:
    with (
        fake_llm() as url,
        running_server(
            tmp_path,
            database_url,
            RTK_SUMMARY_LLM_URL=url,
            RTK_SUMMARY_LLM_KEY="sk-test",
            RTK_SUMMARY_LLM_MODEL="test-model",
            RTK_JOBS_QUEUE=f"rtk-test-{uuid.uuid4().hex[:8]}",
        ) as srv,
    ):
        sc = build(f"app-{uuid.uuid4().hex[:8]}")
        ingest(srv, sc.app, sc.events)
        client = sdk(srv, srv.token(ACCOUNT, "read", "admin", app=sc.app))
        sid = session_of(client, sc, sc.meeting)
        s = client.realtime_kit.sessions
        s.generate_summary_of_transcripts(sid, account_id=ACCOUNT, app_id=sc.app)
        deadline = time.monotonic() + 30
        while True:
            with pytest.raises(cloudflare.NotFoundError) as caught:
                s.get_session_summary(sid, account_id=ACCOUNT, app_id=sc.app)
            if "failed" in str(caught.value):
                break
            assert time.monotonic() < deadline, "the job never failed"
            time.sleep(0.2)
        message = str(caught.value)
        assert "summary generation failed:" in message and "401" in message
        assert "POST to retry" in message and "sk-test" not in message
        assert "invalid api key" not in message and "127.0.0.1" not in message  # for the log
        assert len(FakeLLM.requests) == 1  # a 401 is not retried

        FakeLLM.accept.set()
        # Six racing retries start one job between them: the model is asked exactly once more.
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: s.generate_summary_of_transcripts(
                sid, account_id=ACCOUNT, app_id=sc.app), range(6)))  # fmt: skip
        assert {a.data.status for a in answers if a.data} <= {"PROCESSING", "COMPLETED"}
        text = download(wait_for_summary(client, sc, sid).summary_download_url).text
        time.sleep(1)  # a duplicate job, if there were one, would have asked the model by now
        assert len(FakeLLM.requests) == 2
        assert "Ship on Monday" in text and "@Alice: send the notes by Friday" in text
        last = FakeLLM.requests[-1]
        assert (last["path"], last["auth"], last["model"]) == (
            "/v1/chat/completions",
            "Bearer sk-test",
            "test-model",
        )
        assert "Let's <decide> & ship --> now" in json.dumps(last["messages"], ensure_ascii=False)
