"""Metrics, request ids and log lines of a real server (docs/operations.md).

One server logs JSON and keeps multi-process metrics, with a separate `rtk-sessions worker`
running its jobs, so the jobs' counters reach /metrics only through the shared directory.
Another logs text, keeps metrics in memory, guards /metrics with a token, and is broken on
purpose (a table dropped under it) to see what a 500 logs.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cloudflare
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from files_scenario import ACCOUNT, Scenario, build, download, ingest, iso, sdk, session_of
from support import Server, own_database, running_server, running_worker

pytestmark = pytest.mark.e2e

SESSIONS_ROUTE = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions"
SESSION_ROUTE = SESSIONS_ROUTE + "/{session_id}"
PEER_REPORT_ROUTE = "/accounts/{account_id}/realtime/kit/{app_id}/sessions/peer-report/{peer_id}"


def log_of(srv: Server, data_dir: Path) -> Path:
    return data_dir / f"server-{urlsplit(srv.base_url).port}.log"


def wait_for(check: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return found


def scrape(srv: Server, **headers: str) -> str:
    resp = httpx.get(f"{srv.base_url}/metrics", headers=headers, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return resp.text


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name` with exactly these labels (histogram buckets aside); 0 when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


@dataclass
class Observed:
    srv: Server
    log: Path
    scenario: Scenario

    @property
    def app(self) -> str:
        return self.scenario.app

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def access_line(self, request_id: str) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next(
                (
                    line
                    for line in self.lines()
                    if line["logger"] == "rtk_sessions.access"
                    and line.get("request_id") == request_id
                ),
                None,
            )

        found: dict[str, Any] = wait_for(find, f"no access line for request {request_id}")
        return found


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    """JSON logs, multi-process metrics, jobs only in a worker process whose LLM is down."""
    data_dir = tmp_path_factory.mktemp("observed")
    settings = {
        "RTK_LOG_FORMAT": "json",
        "RTK_METRICS_DIR": str(data_dir / "metrics"),
        "RTK_JOB_WORKERS": "0",
        "RTK_JOBS_QUEUE": f"rtk-test-{uuid.uuid4().hex[:8]}",
        "RTK_SUMMARY_LLM_URL": "http://127.0.0.1:9/v1",  # discard port: nothing listens
        "RTK_SUMMARY_LLM_RETRIES": "0",
        "RTK_SWEEP_INTERVAL": "3600",
    }
    with own_database(data_dir) as url, running_server(data_dir, url, **settings) as srv:
        sc = build(f"app-{uuid.uuid4().hex[:8]}")
        ingest(srv, sc.app, sc.events)
        with running_worker(srv.env, data_dir / "worker.log"):
            yield Observed(srv, log_of(srv, data_dir), sc)


def test_requests_are_counted_by_route_template(observed: Observed) -> None:
    srv = observed.srv
    client = sdk(srv, srv.token(ACCOUNT, "read", app=observed.app))
    before = scrape(srv)
    for _ in range(3):
        client.realtime_kit.sessions.get_sessions(observed.app, account_id=ACCOUNT)
    missing = str(uuid.uuid4())
    with pytest.raises(cloudflare.NotFoundError):
        client.realtime_kit.sessions.get_session_details(
            missing, account_id=ACCOUNT, app_id=observed.app
        )
    assert httpx.get(f"{srv.base_url}/no/such/route-{missing}", timeout=10).status_code == 404
    after = scrape(srv)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"method": "GET", "route": SESSIONS_ROUTE, "status": "200"}
    assert grew("rtk_http_requests_total", **ok) == 3
    assert grew("rtk_http_request_duration_seconds_count", **ok) == 3
    assert grew("rtk_http_request_duration_seconds_sum", **ok) > 0
    not_found = {"method": "GET", "route": SESSION_ROUTE, "status": "404"}
    assert grew("rtk_http_requests_total", **not_found) == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert grew("rtk_http_requests_total", **unmatched) == 1
    assert missing not in after and observed.app not in after  # labels never hold raw paths


def test_events_are_counted_by_outcome(observed: Observed) -> None:
    srv = observed.srv
    app = f"app-{uuid.uuid4().hex[:8]}"
    url = f"{srv.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events"
    headers = {"Authorization": f"Bearer {srv.token(ACCOUNT, 'ingest', app=app)}"}
    at = iso(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
    left = {"id": "l1", "type": "peer.left", "meeting_id": "m1", "occurred_at": at}
    left["peer_id"] = "p-later"  # its join has not arrived: the event waits, pending
    joined = {**left, "id": "j1", "type": "peer.joined", "peer_id": "p1"}
    before = scrape(srv)
    first = httpx.post(url, json=[joined, left, joined], headers=headers, timeout=10)
    assert first.json()["data"] == {"accepted": 2, "duplicates": 1, "pending": 1}
    again = httpx.post(url, json=[joined], headers=headers, timeout=10)
    assert again.json()["data"]["duplicates"] == 1
    refused = httpx.post(url, json=[joined, {"id": "x"}, {}], headers=headers, timeout=10)
    assert refused.status_code == 400
    after = scrape(srv)
    for outcome, grew in (("accepted", 2), ("duplicate", 2), ("refused", 3)):
        delta = value(after, "rtk_events_total", outcome=outcome)
        assert delta - value(before, "rtk_events_total", outcome=outcome) == grew, outcome
    assert value(after, "rtk_events_pending") == value(before, "rtk_events_pending") + 1


def test_job_runs_and_failures_reach_metrics_from_the_worker(observed: Observed) -> None:
    srv, app = observed.srv, observed.app
    client = sdk(srv, srv.token(ACCOUNT, "read", "admin", app=app))
    sc = observed.scenario
    sid = session_of(client, sc, sc.meeting)
    client.realtime_kit.sessions.generate_summary_of_transcripts(
        sid, account_id=ACCOUNT, app_id=app
    )
    metadata = {
        "id": "md-1",
        "type": "peer.metadata",
        "meeting_id": sc.meeting,
        "occurred_at": iso(sc.start),
        "peer_id": "pa",
        "sdk_version": "1.2.3",
    }
    ingest(srv, app, [metadata])  # telemetry: a peer report job

    def counted() -> str | None:
        text = scrape(srv)
        done = (
            value(text, "rtk_job_failures_total", kind="summary") >= 1
            and value(text, "rtk_job_runs_total", kind="peer_report") >= 1
        )
        return text if done else None

    text = wait_for(counted, "the worker's job counters never reached /metrics", seconds=60)
    assert value(text, "rtk_job_runs_total", kind="summary") == 1  # the LLM is down: it failed
    assert value(text, "rtk_job_failures_total", kind="summary") == 1
    assert value(text, "rtk_job_runs_total", kind="peer_report") >= 1
    assert value(text, "rtk_job_failures_total", kind="peer_report") == 0
    assert value(text, "rtk_job_queue_depth") >= 0 and "rtk_job_queue_depth " in text
    with pytest.raises(cloudflare.NotFoundError, match="summary generation failed"):
        client.realtime_kit.sessions.get_session_summary(sid, account_id=ACCOUNT, app_id=app)


def test_request_id_is_returned_and_on_the_log_line(observed: Observed) -> None:
    base = observed.srv.base_url
    resp = httpx.get(f"{base}/healthz", headers={"X-Request-ID": "abc"}, timeout=10)
    assert resp.headers["x-request-id"] == "abc"
    line = observed.access_line("abc")
    assert (line["route"], line["status"], line["method"], line["path"]) == (
        "/healthz",
        200,
        "GET",
        "/healthz",
    )
    assert line["level"] == "INFO" and line["duration_ms"] > 0 and line["time"].endswith("Z")
    # An id that is not short and plain is replaced, never echoed or logged.
    unsafe = "x" * 200
    resp = httpx.get(f"{base}/healthz", headers={"X-Request-ID": unsafe}, timeout=10)
    generated = resp.headers["x-request-id"]
    assert generated != unsafe and len(generated) == 32
    observed.access_line(generated)
    assert unsafe not in observed.log.read_text()


def test_signed_links_are_redacted_in_the_access_log(observed: Observed) -> None:
    srv, app = observed.srv, observed.app
    client = sdk(srv, srv.token(ACCOUNT, "read", app=app))
    sid = session_of(client, observed.scenario, observed.scenario.meeting)
    link = client.realtime_kit.sessions.get_session_transcripts(
        sid, account_id=ACCOUNT, app_id=app, format="VTT"
    )
    url = link.data.transcript_download_url
    signature = parse_qs(urlsplit(url).query)["signature"][0]
    resp = download(url)
    line = observed.access_line(resp.headers["x-request-id"])
    assert line["route"] == "/files/{key}" and line["status"] == 200
    assert "signature=***" in line["path"] and "expires=" in line["path"]
    s3_style = "X-Amz-Credential=AKIAEXAMPLE%2F20260101&X-Amz-Signature=feedface0123"
    resp = httpx.get(f"{srv.base_url}/healthz?{s3_style}", timeout=10)
    observed.access_line(resp.headers["x-request-id"])
    text = observed.log.read_text()
    assert signature not in text
    assert "AKIAEXAMPLE" not in text and "feedface0123" not in text


# --- text logs, metrics in memory, a token on /metrics, and a deliberate 500 -------------


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, str]]:
    data_dir = tmp_path_factory.mktemp("plain")
    with (
        own_database(data_dir) as url,
        running_server(data_dir, url, RTK_METRICS_TOKEN="scrape-me") as srv,
    ):
        yield srv, log_of(srv, data_dir), url


def test_metrics_need_the_token_when_one_is_set(plain: tuple[Server, Path, str]) -> None:
    srv = plain[0]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-me"}):
        resp = httpx.get(f"{srv.base_url}/metrics", headers=headers, timeout=10)
        assert resp.status_code == 401, headers
        assert "RTK_METRICS_TOKEN" in resp.json()["error"]["message"]
    text = scrape(srv, Authorization="Bearer scrape-me")
    labels = {"method": "GET", "route": "/metrics", "status": "401"}
    assert value(text, "rtk_http_requests_total", **labels) == 3


async def _drop_peers(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    cascade = " CASCADE" if url.startswith("postgresql") else ""
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE peers{cascade}"))
    await engine.dispose()


def test_a_500_logs_neither_the_raw_path_nor_sql_parameters(
    plain: tuple[Server, Path, str],
) -> None:
    srv, log, url = plain
    token = srv.token("acct-broken", "read", app="app-broken")
    asyncio.run(_drop_peers(url))  # the operator's mistake: a table is gone under the server
    path = "/accounts/acct-broken/realtime/kit/app-broken/sessions/peer-report/"
    auth = {"Authorization": f"Bearer {token}"}
    # A newline in a URL never reaches a route (the edge check answers 400), and its access
    # line keeps it percent-encoded.
    forged = httpx.get(
        f"{srv.base_url}{path}p-X%0AFORGED-LINE?q=%0AFORGED-LINE", headers=auth, timeout=10
    )
    assert forged.status_code == 400
    resp = httpx.get(
        f"{srv.base_url}{path}p-SECRETPARAM",
        headers={**auth, "X-Request-ID": "req-500"},
        timeout=10,
    )
    assert resp.status_code == 500
    message = resp.json()["error"]["message"]
    assert message == "Internal error; the server log has the details (request id req-500)."

    def error_logged() -> list[str] | None:
        lines = log.read_text().splitlines()
        done = any("rtk_sessions.access [req-500]" in line for line in lines)
        return lines if done else None

    lines = wait_for(error_logged, "the failed request was not logged")
    [error] = [line for line in lines if "unhandled error" in line]
    assert error.endswith(
        f" ERROR rtk_sessions [req-500] unhandled error on GET {PEER_REPORT_ROUTE}"
    )
    assert not any(line.startswith("FORGED") for line in lines)
    assert any("p-X%0AFORGED-LINE?q=%0AFORGED-LINE" in line for line in lines)
    # The peer id (raw input, also the query's bound parameter) appears once: on the access
    # line, as it was sent.
    [mention] = [line for line in lines if "SECRETPARAM" in line]
    assert "rtk_sessions.access [req-500]" in mention
    assert "[parameters:" not in "\n".join(lines)
