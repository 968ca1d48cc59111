"""End to end: `rtk-sessions import realtimekit` reads a real rtk-sessions server (it speaks
RealtimeKit's API) through the official SDK and stores everything in another server's
database; both are then read through the SDK and must serve the same sessions, participants,
chat, transcripts, summary and peer reports, under the same ids.

Server A is the shared test server with a small but complete demo (breakout rooms,
reconnects, edited and pinned chat, transcripts, telemetry, LIVE sessions) plus a summary.
A resumed run reads only what is new, changed or LIVE; a run through a proxy that answers
every fifth request with 429 + Retry-After still imports identically, and waits as told.
"""

from __future__ import annotations

import csv
import http.server
import io
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import msgspec
import pytest
from cloudflare import Cloudflare

from rtk_sessions.demo.events import generate_demo_events
from support import ONCE, Server, cli, own_database, running_server, server_env

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-history"
SINCE = "2000-01-01"
DEMO_SESSIONS = 10


def sdk(base_url: str, token: str) -> Cloudflare:
    return Cloudflare(
        api_token=token, base_url=f"{base_url}/client/v4", _strict_response_validation=True
    )


def ingest(server: Server, app: str, events: list[dict[str, Any]]) -> None:
    token = server.token(ACCOUNT, "ingest", app=app)
    url = f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events"
    for start in range(0, len(events), 4000):
        resp = httpx.post(
            url,
            content=msgspec.json.encode(events[start : start + 4000]),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=60,
        )
        assert resp.status_code == 200, resp.text


def fetch(url: str) -> str:
    resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.content.decode("utf-8")


def _all_sessions(client: Cloudflare, app: str) -> list[Any]:
    out: list[Any] = []
    for page_no in range(1, 100):
        page = client.realtime_kit.sessions.get_sessions(
            app, account_id=ACCOUNT, per_page=100, page_no=page_no, sort_order="ASC"
        )
        rows = page.data.sessions if page.data and page.data.sessions else []
        out += rows
        if len(rows) < 100:
            return out
    raise AssertionError("too many pages")


def _participants(client: Cloudflare, app: str, sid: str, view: str) -> list[dict[str, Any]]:
    resp = client.realtime_kit.sessions.get_session_participants(
        sid,
        account_id=ACCOUNT,
        app_id=app,
        include_peer_events=True,
        view=view,
        per_page=100,  # type: ignore[arg-type]
    )
    rows = [p.to_dict() for p in (resp.data.participants if resp.data else None) or []]
    for row in rows:
        row.pop("updated_at", None)  # when this server received the events
        if row.get("left_at") is None:
            row.pop("duration", None)  # still growing: differs between two reads
    return rows


def _files(client: Cloudflare, app: str, sid: str) -> dict[str, str | None]:
    """The chat CSV, the transcript as JSON and VTT, and the summary, downloaded."""
    s = client.realtime_kit.sessions
    where = {"account_id": ACCOUNT, "app_id": app}
    files: dict[str, str | None] = {}
    for kind in ("chat", "JSON", "VTT", "summary"):
        try:
            if kind == "chat":
                url = s.get_session_chat(sid, **where).data.chat_download_url  # type: ignore[union-attr]
            elif kind == "summary":
                url = s.get_session_summary(sid, **where).data.summary_download_url  # type: ignore[union-attr]
            else:
                got = s.get_session_transcripts(sid, format=kind, **where)  # type: ignore[arg-type]
                url = got.data.transcript_download_url  # type: ignore[union-attr]
        except cloudflare.NotFoundError:
            files[kind] = None
            continue
        files[kind] = fetch(url)
    return files


def snapshot(client: Cloudflare, app: str, only: set[str] | None = None) -> dict[str, Any]:
    """Everything the SDK serves of an app, by session id; only what depends on arrival time
    (updated_at) or on the moment of reading (LIVE minutes) is left out."""
    s = client.realtime_kit.sessions
    out: dict[str, Any] = {}
    for session in _all_sessions(client, app):
        sid = session.id
        if only is not None and sid not in only:
            continue
        row = session.to_dict()
        row.pop("updated_at")
        if row["status"] == "LIVE":
            row.pop("minutes_consumed")
        details = s.get_session_details(
            sid, account_id=ACCOUNT, app_id=app, include_breakout_rooms=True
        )
        assert details.data is not None
        rooms = sorted(r["id"] for r in details.data.breakout_rooms or [])  # type: ignore[index]
        files = _files(client, app, sid)
        raw = _participants(client, app, sid, "raw")
        reports = {}
        for p in raw:
            got = s.with_raw_response.get_participant_data_from_peer_id(
                p["id"], account_id=ACCOUNT, app_id=app
            )
            reports[p["id"]] = got.http_response.json()["data"]["participant"]["peer_report"]
        out[sid] = {
            "session": row,
            "rooms": rooms,
            "raw": raw,
            "consolidated": _participants(client, app, sid, "consolidated"),
            "files": files,
            "reports": reports,
        }
    return out


def run_import(
    target: Server, source_url: str, token: str, app: str, *extra: str
) -> tuple[dict[str, int], float]:
    env = {**target.env, "CLOUDFLARE_API_TOKEN": token}
    started = time.monotonic()
    done = cli(
        env,
        "import", "realtimekit", "--account", ACCOUNT, "--app", app,
        "--from-account", ACCOUNT, "--from-app", app, "--since", SINCE,
        "--base-url", f"{source_url}/client/v4", *extra,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "signature=" not in done.stderr and "expires=" not in done.stderr
    counts: dict[str, int] = msgspec.json.decode(done.stdout.strip().splitlines()[-1])
    return counts, time.monotonic() - started


@contextmanager
def throttling_proxy(upstream: str) -> Iterator[tuple[str, list[tuple[float, str, int]]]]:
    """A loopback HTTP proxy in front of `upstream` that answers every fifth request with 429
    and `Retry-After: 1` (API calls and downloads counted apart, so both are refused);
    yields its URL and its log of (time, path, status)."""
    seen: list[tuple[float, str, int]] = []
    counts = {"api": 0, "download": 0}
    lock = threading.Lock()
    forward = httpx.Client(base_url=upstream, timeout=60)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            kind = "download" if "/files/" in self.path else "api"
            with lock:
                counts[kind] += 1
                throttle = counts[kind] % 5 == 0
                seen.append((time.monotonic(), self.path, 429 if throttle else 0))
            if throttle:
                body = b'{"success":false,"errors":[{"code":429,"message":"slow down"}]}'
                self.send_response(429)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() in ("authorization", "accept", "host")
            }
            resp = forward.get(self.path, headers=headers)
            self.send_response(resp.status_code)
            for name, value in resp.headers.items():
                if name.lower() not in (
                    "content-length",
                    "transfer-encoding",
                    "connection",
                    "content-encoding",
                ):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(resp.content)))
            self.end_headers()
            self.wfile.write(resp.content)

    class Proxy(http.server.ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client closing its keep-alive connection is no news

    proxy = Proxy(("127.0.0.1", 0), Handler)
    proxy.daemon_threads = True
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}", seen
    finally:
        proxy.shutdown()
        proxy.server_close()
        forward.close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def source(server: Server) -> tuple[str, str]:
    """App in server A: a small demo and one summary; returns (app, read token)."""
    app = f"app-{uuid.uuid4().hex[:8]}"
    events = generate_demo_events(int(time.time() * 1000), seed=11, sessions=DEMO_SESSIONS)
    ingest(server, app, events)
    token = server.token(ACCOUNT, "read", "admin", app=app)
    client = sdk(server.base_url, token)
    s = client.realtime_kit.sessions
    ended = [x for x in _all_sessions(client, app) if x.status == "ENDED"]
    for session in ended:
        try:
            s.get_session_transcripts(session.id, account_id=ACCOUNT, app_id=app)
        except cloudflare.NotFoundError:
            continue
        s.generate_summary_of_transcripts(session.id, account_id=ACCOUNT, app_id=app)
        deadline = time.monotonic() + 60
        while True:
            try:
                s.get_session_summary(session.id, account_id=ACCOUNT, app_id=app)
                break
            except cloudflare.NotFoundError:
                assert time.monotonic() < deadline, "summary did not complete"
                time.sleep(0.2)
        break
    return app, token


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Server B: a database of its own."""
    directory = tmp_path_factory.mktemp("history-b")
    with (
        own_database(directory) as url,
        running_server(directory, url, RTK_SWEEP_INTERVAL="3600") as srv,
    ):
        yield srv


def test_import_resume_and_rate_limits(
    server: Server, source: tuple[str, str], target: Server, tmp_path: Path
) -> None:
    app, token = source
    a = sdk(server.base_url, token)
    expected = snapshot(a, app)
    live = [sid for sid, v in expected.items() if v["session"]["status"] == "LIVE"]
    peers = sum(len(v["raw"]) for v in expected.values())
    # The scenario is complete: rooms, reconnects, edits and pins, transcripts, a summary,
    # telemetry, LIVE sessions.
    assert any(v["rooms"] for v in expected.values())
    assert any(len(v["consolidated"]) < len(v["raw"]) for v in expected.values())
    chats = [v["files"]["chat"] for v in expected.values() if v["files"]["chat"]]
    assert any(",true,true," in c or ",true,false," in c or ",false,true," in c for c in chats)
    assert any(v["files"]["JSON"] for v in expected.values())
    assert sum(v["files"]["summary"] is not None for v in expected.values()) == 1
    assert any(r and r.get("quality") for v in expected.values() for r in v["reports"].values())
    assert live

    # First run: everything, ids kept.
    first, _ = run_import(target, server.base_url, token, app)
    assert first["listed"] == first["imported"] == len(expected), first
    assert (first["skipped"], first["failed"], first["summaries"]) == (0, 0, 1), first
    assert first["peer_reports"] == peers, first
    b = sdk(target.base_url, target.token(ACCOUNT, "read", app=app))
    assert snapshot(b, app) == expected

    # Resumed: only the LIVE sessions are read again, and nothing of them is new.
    second, _ = run_import(target, server.base_url, token, app)
    assert second["imported"] == len(live) and second["skipped"] == len(expected) - len(live)
    assert (second["events_accepted"], second["failed"]) == (0, 0), second

    # New and changed in the source: a new session; in a LIVE one a new message, and an
    # edit that also pins an imported message.
    changes = _changes(expected, live)
    ingest(server, app, changes)
    before, expected = expected, snapshot(a, app)
    third, _ = run_import(target, server.base_url, token, app)
    assert third["imported"] == len(live) + 1, third
    assert third["skipped"] == len(expected) - len(live) - 1, third
    assert third["failed"] == 0 and third["chat_messages"] > 0, third
    changed = {*live, *(sid for sid in expected if sid not in before)}
    assert snapshot(b, app, changed) == {k: v for k, v in expected.items() if k in changed}

    # Through a proxy that answers every fifth request 429 (Retry-After: 1), into server C.
    directory = tmp_path / "c"
    directory.mkdir()
    with (
        own_database(directory) as url,
        running_server(directory, url, RTK_SWEEP_INTERVAL="3600") as c_server,
        throttling_proxy(server.base_url) as (proxy_url, log),
    ):
        throttled, _ = run_import(c_server, proxy_url, token, app, "--concurrency", "16")
        assert throttled["imported"] == len(expected) and throttled["failed"] == 0, throttled
        c = sdk(c_server.base_url, c_server.token(ACCOUNT, "read", app=app))
        assert snapshot(c, app) == expected
    refused = [(t, path) for t, path, status in log if status == 429]
    assert len(refused) >= len(log) // 5 - 2 and refused
    downloads = [path for _, path in refused if "/files/" in path or "expires=" in path]
    assert downloads, "downloads were throttled too"
    for when, path in refused:
        retried = [t for t, p, _ in log if p == path and t > when]
        assert retried, f"{path.split('?')[0]} was not retried"
        assert min(retried) - when >= 0.95, "Retry-After was not honoured"


def _changes(expected: dict[str, Any], live: list[str]) -> list[dict[str, Any]]:
    """Events that make one new session, and change the chat of a LIVE one."""
    now = int(time.time() * 1000)
    meeting, peer = str(uuid.uuid4()), f"peer-{uuid.uuid4().hex[:8]}"
    events: list[dict[str, Any]] = [
        {"id": f"new-{peer}-in", "type": "peer.joined", "meeting_id": meeting,
         "occurred_at": now - 600_000, "peer_id": peer, "display_name": "Newcomer"},
        {"id": f"new-{peer}-out", "type": "peer.left", "meeting_id": meeting,
         "occurred_at": now - 300_000, "peer_id": peer},
    ]  # fmt: skip
    for sid in live:
        chat = expected[sid]["files"]["chat"]
        connected = [p for p in expected[sid]["raw"] if p["left_at"] is None]
        if not chat or not connected:
            continue
        rows = list(csv.DictReader(io.StringIO(chat, newline="")))
        first, meeting_id = rows[0], expected[sid]["session"]["associated_id"]
        return [
            *events,
            {"id": f"edit-{uuid.uuid4().hex[:8]}", "type": "chat.message",
             "meeting_id": meeting_id, "occurred_at": now, "peer_id": first["participantId"],
             "message_id": first["id"], "payload": "edited after the import", "is_edited": True,
             "pinned": True},
            {"id": f"more-{uuid.uuid4().hex[:8]}", "type": "chat.message",
             "meeting_id": meeting_id, "occurred_at": now, "peer_id": connected[0]["id"],
             "message_id": f"m-{uuid.uuid4().hex[:8]}", "payload": "a new message"},
        ]  # fmt: skip
    raise AssertionError("no LIVE session with chat and a connected peer in the scenario")


@ONCE
def test_user_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    env = server_env(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'rtk.db'}")
    args = ["import", "realtimekit", "--account", "a", "--app", "b", "--from-account", "x",
            "--from-app", "y", "--since", "2026-01-01"]  # fmt: skip
    missing = cli(env, *args)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "error: set CLOUDFLARE_API_TOKEN to an API token that can read the RealtimeKit app"
    )
    with_token = {**env, "CLOUDFLARE_API_TOKEN": "t"}
    bad = cli(with_token, *args[:-1], "yesterday")
    assert bad.returncode == 2 and "--since is not a date or time" in bad.stderr
    bad = cli(with_token, *args, "--base-url", "ftp://example")
    assert bad.returncode == 2 and "--base-url must be an http(s) URL" in bad.stderr
    assert not (tmp_path / "rtk.db").exists()  # nothing was touched
