"""One request, one transaction: each read route of the Sessions API (and the ingest API's
pending list) answers from ONE read transaction shared by the token check and the query,
counted by a real server process (RTK_TEST_COUNT_TRANSACTIONS: `X-RTK-Transactions` on every
response). Only the named second phases add one: the token's `last used` stamp when it is due
(its first use here), the peer report rebuilt and stored when the stored one is stale, and a
chat or transcript file recorded after it was built from what the one read transaction read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudflare import Cloudflare

from files_scenario import iso, sdk
from support import Server, running_server

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-onetx"
HEADER = "x-rtk-transactions"


def _scenario(meeting: str) -> list[dict[str, Any]]:
    b = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    sample = {"timestamp": iso(b + timedelta(seconds=61)), "kind": "audio",
              "direction": "outbound", "ssrc": 1, "packets_sent": 50, "packets_lost": 0,
              "bytes_sent": 5000, "jitter": 0.004, "round_trip_time": 0.05}  # fmt: skip

    def event(eid: str, kind: str, seconds: int, **body: Any) -> dict[str, Any]:
        when = iso(b + timedelta(seconds=seconds))
        return {"id": eid, "type": kind, "meeting_id": meeting, "occurred_at": when, **body}

    return [
        event("j", "peer.joined", 0, peer_id="pa", display_name="Ada"),
        event("st", "peer.stats", 62, peer_id="pa", samples=[sample]),
        event("c1", "chat.message", 90, peer_id="pa", message_id="m1", payload="hello"),
        event("t1", "transcript.segment", 95, peer_id="pa", text="Good morning."),
        event("l", "peer.left", 600, peer_id="pa"),
        # No join for this peer: its leave waits, pending.
        event("lone", "peer.left", 700, peer_id="nobody"),
    ]


@pytest.fixture(scope="module")
def counting(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Server]:
    """A server of its own that counts; no job workers (and a queue of its own), so that no
    background job rebuilds the peer report before the test reads it stale."""
    data_dir: Path = tmp_path_factory.mktemp("onetx")
    with running_server(
        data_dir,
        database_url,
        RTK_TEST_COUNT_TRANSACTIONS="1",
        RTK_JOB_WORKERS="0",
        RTK_JOBS_QUEUE=f"onetx-{uuid.uuid4().hex[:8]}",
        RTK_SWEEP_INTERVAL="3600",
        RTK_AUTH_FAILURE_LIMIT="off",
    ) as srv:
        yield srv


def _count(resp: Any) -> int:
    return int(resp.headers[HEADER])


def test_each_read_route_is_one_transaction(counting: Server) -> None:
    app, meeting = f"app-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    ingest = {"Authorization": f"Bearer {counting.token(ACCOUNT, 'ingest', app=app)}"}
    base = f"{counting.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}"
    posted = httpx.post(f"{base}/events", json=_scenario(meeting), headers=ingest, timeout=30)
    assert posted.status_code == 200, posted.text

    s = sdk(counting, counting.token(ACCOUNT, "read", app=app)).realtime_kit.sessions
    raw = s.with_raw_response
    where = {"account_id": ACCOUNT, "app_id": app}

    # The token's first use: its read, then the `last used` stamp (due: never stamped).
    first = raw.get_sessions(app, account_id=ACCOUNT)
    assert _count(first) == 2, "read + the token's first last-used stamp"
    sid = first.parse().data.sessions[0].id  # type: ignore[union-attr,index]

    # Within the minute the stamp is not due: every read route is one transaction.
    reads = {
        "sessions": lambda: raw.get_sessions(app, account_id=ACCOUNT, status="ENDED"),
        "session details": lambda: raw.get_session_details(
            sid, **where, include_breakout_rooms=True
        ),
        "participants": lambda: raw.get_session_participants(sid, **where),
        "participants consolidated": lambda: raw.get_session_participants(
            sid, **where, view="consolidated", include_peer_events=True
        ),
        "participant details": lambda: raw.get_session_participant_details(
            "pa", **where, session_id=sid
        ),
    }
    for name, read in reads.items():
        resp = read()
        assert resp.status_code == 200, name
        assert _count(resp) == 1, name

    # The peer report: stale at first (no worker built it), so a second phase rebuilds and
    # stores it after the read; the next read serves the stored report in one transaction.
    stale = raw.get_participant_data_from_peer_id("pa", **where)
    assert _count(stale) == 2, "read + the stale report's rebuild-and-store phase"
    fresh = raw.get_participant_data_from_peer_id("pa", **where)
    assert _count(fresh) == 1
    assert fresh.parse().data == stale.parse().data  # type: ignore[union-attr]
    report = fresh.parse().data.participant  # type: ignore[union-attr]
    assert report is not None and report.peer_report is not None

    # The ingest API's pending list (the ingest token was stamped by its POST above).
    pending = httpx.get(f"{base}/pending", headers=ingest, timeout=30)
    assert pending.status_code == 200, pending.text
    assert [e["id"] for e in pending.json()["data"]["events"]] == ["lone"]
    assert _count(pending) == 1


def test_refusals_cost_one_transaction_and_leave_none_open(counting: Server) -> None:
    """A 404 from the query and a 400 from a query value checked after authentication: one
    transaction each, and nothing written (no stamp for a failed request)."""
    app = f"app-{uuid.uuid4().hex[:8]}"
    token = counting.token(ACCOUNT, "read", app=app)
    client: Cloudflare = sdk(counting, token)
    raw = client.realtime_kit.sessions.with_raw_response
    assert _count(raw.get_sessions(app, account_id=ACCOUNT)) == 2  # the first stamp
    headers = {"Authorization": f"Bearer {token}"}
    sessions = f"{counting.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{app}/sessions"
    missing = httpx.get(f"{sessions}/{uuid.uuid4()}", headers=headers, timeout=30)
    assert missing.status_code == 404 and _count(missing) == 1
    bad = httpx.get(sessions, params={"per_page": "many"}, headers=headers, timeout=30)
    assert bad.status_code == 400 and _count(bad) == 1
    for _ in range(3):  # nothing left holding a connection: the same answers again
        assert _count(raw.get_sessions(app, account_id=ACCOUNT)) == 1


def test_file_routes_read_in_one_transaction(counting: Server) -> None:
    """Chat and transcript links: the first request builds the file from its one read
    transaction and records it in a second (the named build phase); later ones are a single
    read. A summary's 404 ("none yet") is one read too."""
    app, meeting = f"app-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    ingest = {"Authorization": f"Bearer {counting.token(ACCOUNT, 'ingest', app=app)}"}
    base = f"{counting.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}"
    posted = httpx.post(f"{base}/events", json=_scenario(meeting), headers=ingest, timeout=30)
    assert posted.status_code == 200, posted.text
    s = sdk(counting, counting.token(ACCOUNT, "read", app=app)).realtime_kit.sessions
    raw = s.with_raw_response
    where = {"account_id": ACCOUNT, "app_id": app}
    sid = raw.get_sessions(app, account_id=ACCOUNT).parse().data.sessions[0].id  # type: ignore[union-attr,index]

    chat = [raw.get_session_chat(sid, **where) for _ in range(2)]
    assert [_count(r) for r in chat] == [2, 1], "build + record, then the recorded file"
    assert chat[0].parse().data.chat_download_url  # type: ignore[union-attr]
    for fmt in ("CSV", "VTT"):
        files = [raw.get_session_transcripts(sid, **where, format=fmt) for _ in range(2)]  # type: ignore[arg-type]
        assert [_count(r) for r in files] == [2, 1], fmt
    headers = {"Authorization": f"Bearer {counting.token(ACCOUNT, 'read', app=app)}"}
    summary = f"{counting.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{app}"
    first = httpx.get(f"{summary}/sessions/{sid}/summary", headers=headers, timeout=30)
    again = httpx.get(f"{summary}/sessions/{sid}/summary", headers=headers, timeout=30)
    assert first.status_code == again.status_code == 404, first.text
    assert "no summary" in again.json()["errors"][0]["message"]
    assert (_count(first), _count(again)) == (1, 1), "one read each; a refusal is not stamped"
