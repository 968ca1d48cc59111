"""End to end against a real server: hostile input costs bounded time and never stalls others.

While a heavy request or job runs, a thread polls `/healthz` and every answer must come
within 200 ms (issue 8): the event loop stays free because bodies, dumps and summaries are
worked on in worker processes (docs/adr/0004-cpu-work-off-the-event-loop.md). Sizes are
smaller than the issue's figures (a 100 MB dump, a 3 M-word transcript) to keep the suite
fast on two cores, but each is heavy enough to hold the loop for seconds when worked on it.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from heavy_inputs import DUMP, big_batch, big_dump, gzip_members, healthz_watch, long_transcript
from support import descendants, running, running_server

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-hostile"
MAX_HEALTHZ_S = 0.2
ATTEMPTS = 3
T = TypeVar("T")
R = TypeVar("R")
MEMBERS = gzip_members(100_000)  # 2 MB


def while_responsive(
    server: Any, setup: Callable[[], T], heavy: Callable[[T], R], min_checks: int = 3
) -> R:
    """`heavy(setup())` while `/healthz` is polled: every answer must come within 200 ms.

    On a shared host a lone answer can be late for reasons of its own (an idle server here
    answers one health check in a thousand in over 200 ms), so a failure must reproduce: the
    run is repeated, from a fresh `setup()`, up to ATTEMPTS times. A stalled event loop fails
    every run."""
    for attempt in range(1, ATTEMPTS + 1):
        prepared = setup()
        with healthz_watch(server.base_url) as during:
            result = heavy(prepared)
        if max(during, default=0) < MAX_HEALTHZ_S:
            break
        print(f"attempt {attempt}: /healthz took {max(during) * 1000:.0f} ms")
    assert_responsive(during, min_checks)
    return result


def assert_responsive(during: list[float], min_checks: int = 3) -> None:
    assert len(during) >= min_checks, f"only {len(during)} health checks while the request ran"
    worst = max(during)
    assert worst < MAX_HEALTHZ_S, f"/healthz took {worst * 1000:.0f} ms (of {len(during)})"


@pytest.fixture(scope="module")
def token(server: Any) -> str:
    return str(server.token(ACCOUNT, "ingest", "read", "admin"))


def post(server: Any, token: str, path: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/{path}",
        content=body,
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=120,
    )


def app_absent(server: Any, token: str, app: str) -> bool:
    url = f"{server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{app}/sessions"
    resp = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return resp.status_code == 404


def new_app() -> str:
    return f"app-{uuid.uuid4().hex[:8]}"


# --- path and query values that are not text: 400 at the edge, the same on both databases --

RTK = "/client/v4/accounts/{account}/realtime/kit/{app}"
EDGE_CASES: list[tuple[str, str, str]] = [
    # the five of issue 8 (500 on PostgreSQL before)
    ("GET", RTK + "/sessions?search=%00",
     "query parameter search: the value holds a NUL character (U+0000); remove it"),
    ("GET", RTK + "/sessions?associated_id=a%00b", "query parameter associated_id: the value holds a NUL"),
    ("GET", RTK + "/sessions/{session}/participants/a%00b", "path parameter participant_id: the value holds a NUL"),
    ("GET", RTK + "/sessions/peer-report/a%00b", "path parameter peer_id: the value holds a NUL"),
    ("GET", "/client/v4/accounts/{account}/realtime/kit/a%00b/sessions", "path parameter app_id: the value holds a NUL"),
    # more of the same
    ("GET", "/accounts/{account}/realtime/kit/{app}/sessions/a%00b", "path parameter session_id: the value holds a NUL"),
    ("GET", RTK + "/sessions/{session}/participants?search=%00", "query parameter search: the value holds a NUL"),
    ("GET", RTK + "/sessions?search=a%1Bb", "query parameter search: the value holds a control character (U+001B)"),
    ("GET", RTK + "/sessions?search=a%C2%85b", "query parameter search: the value holds a control character (U+0085)"),
    ("GET", RTK + "/sessions?search=%FF", "query parameter search: not valid UTF-8 once percent-decoded"),
    ("GET", RTK + "/sessions?search=%ED%A0%80", "query parameter search: not valid UTF-8"),  # a surrogate
    ("GET", RTK + "/sessions?search%00=x", "query parameter search\x00: the name holds a NUL"),
    ("GET", RTK + "/sessions/%C0%80", "path parameter session_id: not valid UTF-8 once percent-decoded"),
    ("GET", RTK + "/sessions/{session}/transcript?format=%00", "query parameter format: the value holds a NUL"),
    ("GET", RTK + "/sessions?meeting_id=a%20b",
     "query parameter meeting_id: must be 1–128 characters A-Z, a-z, 0-9, '.', '_', ':' or '-' (got 'a b')"),
    ("GET", RTK + "/sessions/" + "s" * 129, "path parameter session_id: must be 1–128 characters"),
    ("GET", RTK + "/sessions/peer-report/...", "path parameter peer_id: must contain a character other than '.'"),
    ("GET", "/ingest/v1/accounts/{account}/apps/{app}/pending?limit=%00", "query parameter limit: the value holds a NUL"),
    ("POST", "/ingest/v1/accounts/{account}/apps/a%00b/events", "path parameter app_id: the value holds a NUL"),
    ("POST", "/ingest/v1/accounts/a%00b/apps/{app}/events", "path parameter account_id: the value holds a NUL"),
    ("POST", "/ingest/v1/accounts/{account}/apps/{app}/peers/a%00b/rtcstats?meeting_id=m",
     "path parameter peer_id: the value holds a NUL"),
    ("POST", "/ingest/v1/accounts/{account}/apps/{app}/peers/p/rtcstats?meeting_id=a%00b",
     "query parameter meeting_id: the value holds a NUL"),
    ("GET", "/files/a%00b?expires=1&signature=x", "path parameter key: the value holds a NUL"),
    ("GET", "/healthz?probe=%0A", "query parameter probe: the value holds a control character (U+000A)"),
]  # fmt: skip


@pytest.fixture(scope="module")
def known(server: Any, token: str) -> dict[str, str]:
    """An app with one session, so that every path above names something that exists."""
    app = new_app()
    join = {"id": "j", "type": "peer.joined", "meeting_id": "m", "peer_id": "p",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}  # fmt: skip
    assert post(server, token, f"apps/{app}/events", json.dumps([join]).encode()).status_code == 200
    url = f"{server.base_url}{RTK.format(account=ACCOUNT, app=app)}/sessions"
    resp = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    [session] = resp.json()["data"]["sessions"]
    return {"account": ACCOUNT, "app": app, "session": session["id"]}


@pytest.mark.parametrize(("method", "path", "message"), EDGE_CASES)
def test_a_value_that_is_not_text_is_400_naming_the_parameter(
    server: Any, token: str, known: dict[str, str], method: str, path: str, message: str
) -> None:
    url = server.base_url + path.format(**known)
    resp = httpx.request(
        method, url, content=b"[]", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["success"] is False and body["error"]["code"] == 400, body
    assert body["error"]["message"].startswith(message), body
    assert body["errors"] == [{"code": 400, "message": body["error"]["message"]}]
    assert len(resp.content) < 1000


def test_the_edge_check_comes_before_authentication(server: Any) -> None:
    resp = httpx.get(f"{server.base_url}{RTK}/sessions?search=%00".format(account="a", app="b"))
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize(
    "query",
    ["search=%F0%9F%98%80", "search=caf%C3%A9+au+lait", "search=a%2Bb%26c", "search=&per_page=",
     "associated_id=m.1:2_3-4", "meeting_id=m"],
)  # fmt: skip
def test_text_values_pass_the_edge(
    server: Any, token: str, known: dict[str, str], query: str
) -> None:
    url = f"{server.base_url}{RTK.format(**known)}/sessions?{query}"
    resp = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code == 200, resp.text


# --- many empty gzip members: the inflater once copied the rest of the body per member ------


@pytest.mark.serial
@pytest.mark.parametrize("route", ["events", "rtcstats"])
def test_many_gzip_members_are_refused_quickly(server: Any, token: str, route: str) -> None:
    path = "events" if route == "events" else "peers/p1/rtcstats?meeting_id=m1"
    gz = {"Content-Type": "application/json", "Content-Encoding": "gzip"}

    def send(app: str) -> tuple[str, httpx.Response]:
        return app, post(server, token, f"apps/{app}/{path}", MEMBERS, **gz)

    # Refused within a few health checks' time, so one check during it is enough to see.
    app, resp = while_responsive(server, new_app, send, min_checks=1)
    assert resp.status_code == 400, resp.text
    assert "more than 10000 gzip members" in resp.json()["error"]["message"]
    assert app_absent(server, token, app)


# --- large honest bodies: decoded, inflated and validated off the event loop ---------------


@pytest.mark.serial
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_full_telemetry_batch_leaves_the_server_responsive(
    server: Any, token: str, encoding: str
) -> None:
    body = json.dumps(big_batch()).encode()
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    sent = gzip.compress(body) if encoding == "gzip" else body

    def send(app: str) -> httpx.Response:
        return post(server, token, f"apps/{app}/events", sent, **headers)

    resp = while_responsive(server, new_app, send)
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["accepted"] == 5000


DUMP_MB = 5


@pytest.mark.serial
@pytest.mark.skipif(not DUMP.is_file(), reason=f"rtcstats dump not found at {DUMP}")
@pytest.mark.parametrize("ending", ["complete", "invalid last event"])
def test_a_large_rtcstats_dump_leaves_the_server_responsive(
    server: Any, token: str, ending: str
) -> None:
    """Read and validated whole (an event from the future on the last line refuses it all)
    before anything is written."""
    dump = big_dump(DUMP_MB)
    if ending != "complete":
        tomorrow = int((datetime.now(UTC) + timedelta(days=1)).timestamp() * 1000)
        dump += json.dumps(["oniceconnectionstatechange", "PC_0", "failed", tomorrow]).encode()

    def send(app: str) -> tuple[str, httpx.Response]:
        return app, post(server, token, f"apps/{app}/peers/p1/rtcstats?meeting_id=m1", dump)

    app, resp = while_responsive(server, new_app, send)
    if ending == "complete":
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["accepted"] > 500
    else:
        assert resp.status_code == 400, resp.text
        assert "in the future" in json.dumps(resp.json()["errors"]), resp.text
        assert app_absent(server, token, app)


# --- a long transcript's summary runs in a job process, not in the API --------------------


SUMMARY_WORDS = 150_000


@pytest.mark.serial
def test_a_long_summary_leaves_the_server_responsive(server: Any, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    transcript = json.dumps(long_transcript(SUMMARY_WORDS)).encode()

    def setup() -> str:
        app = new_app()
        resp = post(server, token, f"apps/{app}/events", transcript)
        assert resp.status_code == 200, resp.text
        base = f"{server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{app}/sessions"
        [session] = httpx.get(base, headers=auth, timeout=30).json()["data"]["sessions"]
        return f"{base}/{session['id']}/summary"

    def summarize(summary: str) -> httpx.Response:
        started = httpx.post(summary, headers=auth, timeout=30)
        assert started.status_code == 200, started.text
        deadline = time.monotonic() + 300
        while (got := httpx.get(summary, headers=auth, timeout=30)).status_code == 404:
            assert "being generated" in got.text, got.text
            assert time.monotonic() < deadline, "the summary did not complete"
            time.sleep(0.2)
        return got

    got = while_responsive(server, setup, summarize)
    assert got.status_code == 200, got.text


# --- the worker processes end with their server ---------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_worker_processes_end_with_their_server(
    tmp_path: Path, database_url: str, how: str
) -> None:
    with running_server(tmp_path, database_url, RTK_JOB_WORKERS="1") as srv:
        token = srv.token(ACCOUNT, "ingest")
        url = f"{srv.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{new_app()}/events"
        batch = json.dumps(big_batch()[:50]).encode()  # telemetry: a report job runs too
        resp = httpx.post(url, content=batch, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        deadline = time.monotonic() + 30
        # multiprocessing's resource tracker, the fork server, and at least one worker
        while len(workers := descendants(srv.proc.pid)) < 3:
            assert time.monotonic() < deadline, f"worker processes: {workers}"
            time.sleep(0.2)
        if how == "SIGKILL":
            srv.proc.kill()
        else:
            srv.proc.terminate()
        srv.proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while alive := [p for p in workers if running(p)]:
        if time.monotonic() > deadline:
            for pid in alive:  # leave nothing behind, then fail
                os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"{how}: processes outlived their server: {alive}")
        time.sleep(0.2)
