"""Errors shown to API clients name the failure's class, never URLs, hosts, credentials or
exception text; the server log has the details with the credentials masked.

Real server processes; the LLM endpoint and the S3 endpoint are loopback ports nobody listens
on, so both fail the way an unreachable service fails.
"""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import cloudflare
import pytest

from files_scenario import ACCOUNT, build, ingest, session_of
from support import Server, running_server

pytestmark = pytest.mark.e2e


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def failed_summary(client: cloudflare.Cloudflare, app: str, sid: str) -> str:
    """POST a summary, then the message GET answers once the job has failed."""
    s = client.realtime_kit.sessions
    s.generate_summary_of_transcripts(sid, account_id=ACCOUNT, app_id=app)
    deadline = time.monotonic() + 60
    while True:
        with pytest.raises(cloudflare.NotFoundError) as caught:
            s.get_session_summary(sid, account_id=ACCOUNT, app_id=app)
        if "failed" in str(caught.value):
            return caught.value.body["error"]["message"]  # type: ignore[index]
        assert time.monotonic() < deadline, "the job never failed"
        time.sleep(0.2)


def client_for(srv: Server, app: str) -> cloudflare.Cloudflare:
    token = srv.token(ACCOUNT, "read", "admin", app=app)
    return cloudflare.Cloudflare(
        api_token=token, base_url=f"{srv.base_url}/client/v4", max_retries=0
    )


def test_llm_credentials_reach_neither_clients_nor_the_log(
    tmp_path: Path, database_url: str
) -> None:
    port = closed_port()
    settings = {
        "RTK_SUMMARY_LLM_URL": f"http://llm-user:hunter2@127.0.0.1:{port}/v1",
        "RTK_SUMMARY_LLM_KEY": "sk-hidden-key",
        "RTK_SUMMARY_LLM_RETRIES": "0",
        "RTK_JOBS_QUEUE": f"rtk-test-{uuid.uuid4().hex[:8]}",
    }
    with running_server(tmp_path, database_url, **settings) as srv:
        sc = build(f"app-{uuid.uuid4().hex[:8]}")
        ingest(srv, sc.app, sc.events)
        client = client_for(srv, sc.app)
        sid = session_of(client, sc, sc.meeting)
        message = failed_summary(client, sc.app, sid)
        log = srv.log.read_text()
    assert message == (
        "summary generation failed: the summary model could not be reached "
        "(gave up after 1 attempt); POST to retry"
    )
    assert "could not be reached" in log and f"127.0.0.1:{port}" in log  # for the operator
    for secret in ("hunter2", "llm-user", "sk-hidden-key"):
        assert secret not in log


def test_file_store_failures_reach_clients_as_their_class(
    tmp_path: Path, database_url: str
) -> None:
    port = closed_port()
    settings = {
        "RTK_BLOB_URL": "s3://rtk-files/private-prefix",
        "RTK_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "RTK_S3_PATH_STYLE": "true",
        "RTK_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "RTK_S3_SECRET_ACCESS_KEY": "s3-secret-value",
        "RTK_JOBS_QUEUE": f"rtk-test-{uuid.uuid4().hex[:8]}",
        "AWS_MAX_ATTEMPTS": "1",  # botocore would retry a refused connection for seconds
    }
    with running_server(tmp_path, database_url, **settings) as srv:
        sc = build(f"app-{uuid.uuid4().hex[:8]}")
        ingest(srv, sc.app, sc.events)
        client = client_for(srv, sc.app)
        sid = session_of(client, sc, sc.meeting)
        with pytest.raises(cloudflare.APIStatusError) as caught:
            client.realtime_kit.sessions.get_session_chat(sid, account_id=ACCOUNT, app_id=sc.app)
        chat = caught.value
        summary = failed_summary(client, sc.app, sid)
        log = srv.log.read_text()
    assert chat.status_code == 503
    assert chat.body["error"]["message"] == "the file store could not be reached"  # type: ignore[index]
    assert summary == (
        "summary generation failed: the file store could not be reached; POST to retry"
    )
    for text in (str(chat.body), summary):
        assert str(port) not in text and "private-prefix" not in text
    assert f"127.0.0.1:{port}" in log and "s3-secret-value" not in log
