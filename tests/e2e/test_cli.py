"""The operator CLI as a user runs it: bulk ingest, pending, rebuild, tokens, demo data."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


def _events(meeting: str) -> list[dict[str, Any]]:
    def ev(eid: str, kind: str, minute: int, peer: str) -> dict[str, Any]:
        when = f"2026-10-01T10:{minute:02d}:00Z"
        return {
            "id": eid,
            "type": kind,
            "meeting_id": meeting,
            "occurred_at": when,
            "peer_id": peer,
        }

    return [
        ev("j1", "peer.joined", 0, "p1"),
        ev("j2", "peer.joined", 5, "p2"),
        ev("l1", "peer.left", 30, "p1"),
        ev("l2", "peer.left", 40, "p2"),
        ev("l9", "peer.left", 41, "p9"),  # never joined: stays pending
    ]


def _sessions(server: Any, token: str, app: str) -> list[dict[str, Any]]:
    resp = httpx.get(
        f"{server.base_url}/accounts/acct-cli/realtime/kit/{app}/sessions",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    sessions: list[dict[str, Any]] = resp.json()["data"]["sessions"]
    return sessions


def test_ingest_pending_rebuild(server: Any, tmp_path: Path, app_id: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in _events(str(uuid.uuid4()))) + "\n\n")
    out = server.cli(
        "ingest", str(path), "--account", "acct-cli", "--app", app_id, "--batch-size", "3"
    )
    assert json.loads(out.strip().splitlines()[-1]) == {
        "accepted": 5,
        "duplicates": 0,
        "pending": 1,
    }
    again = server.cli("ingest", str(path), "--account", "acct-cli", "--app", app_id)
    assert json.loads(again.strip().splitlines()[-1]) == {
        "accepted": 0,
        "duplicates": 5,
        "pending": 1,
    }

    pending = server.cli("pending", "--account", "acct-cli", "--app", app_id)
    assert pending.splitlines()[0] == "1 pending events"
    assert "l9\tpeer.left\twaiting for the peer.joined of peer p9" in pending

    token = server.token("acct-cli", "read", app=app_id)
    before = _sessions(server, token, app_id)
    assert (
        len(before) == 1 and before[0]["status"] == "ENDED" and before[0]["minutes_consumed"] == 65
    )
    assert "rebuilt" in server.cli("rebuild")
    assert _sessions(server, token, app_id) == before


def test_invalid_file_is_rejected_whole(server: Any, tmp_path: Path, app_id: str) -> None:
    events = _events("m-bad")
    events[3]["occurred_at"] = "yesterday"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(events))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rtk_sessions",
            "ingest",
            str(path),
            "--account",
            "acct-cli",
            "--app",
            app_id,
        ],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "events[3].occurred_at" in done.stderr and "not an RFC 3339 timestamp" in done.stderr
    token = server.token("acct-cli", "read")
    resp = httpx.get(
        f"{server.base_url}/accounts/acct-cli/realtime/kit/{app_id}/sessions",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert resp.status_code == 404  # the rejected file did not even create the app


def test_token_revoke(server: Any, app_id: str) -> None:
    token = server.token("acct-cli", "ingest", app=app_id)
    url = f"{server.base_url}/ingest/v1/accounts/acct-cli/apps/{app_id}/events"
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.post(url, json=[], headers=headers, timeout=10).status_code == 200
    assert server.cli("token", "revoke", token).strip() == "revoked"
    denied = httpx.post(url, json=[], headers=headers, timeout=10)
    assert denied.status_code == 401 and "revoked" in denied.json()["error"]["message"]


def test_export_writes_what_the_api_links_to(server: Any, tmp_path: Path) -> None:
    from files_scenario import ACCOUNT, build, download, ingest, sdk, session_of

    sc = build(f"app-{uuid.uuid4().hex[:8]}")
    ingest(server, sc.app, sc.events)
    client = sdk(server, server.token(ACCOUNT, "read", app=sc.app))
    sid = session_of(client, sc, sc.meeting)
    s = client.realtime_kit.sessions

    def export(kind: str, *extra: str) -> bytes:
        out = tmp_path / f"{kind}{''.join(extra)}.out"
        server.cli(
            "export", kind, sid, "--account", ACCOUNT, "--app", sc.app, "-o", str(out), *extra
        )
        return out.read_bytes()

    chat = s.get_session_chat(sid, account_id=ACCOUNT, app_id=sc.app).data
    assert chat is not None
    assert export("chat") == download(chat.chat_download_url).content
    vtt = s.get_session_transcripts(sid, account_id=ACCOUNT, app_id=sc.app, format="VTT").data
    assert vtt is not None
    assert export("transcript", "--format", "vtt") == download(vtt.transcript_download_url).content
    # No worker needed: the operator's export generates the summary itself.
    summary = export("summary").decode()
    assert summary.startswith("## Meeting Summary") and "### Decisions Made" in summary

    env = server.env
    bad = subprocess.run(
        [sys.executable, "-m", "rtk_sessions", "export", "transcript", sid, "--account", ACCOUNT,
         "--app", sc.app, "--format", "docx", "-o", str(tmp_path / "x")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 1 and "CSV, JSON, SRT, VTT" in bad.stderr
    assert not (tmp_path / "x").exists()
    missing = subprocess.run(
        [sys.executable, "-m", "rtk_sessions", "export", "chat", str(uuid.uuid4()),
         "--account", ACCOUNT, "--app", sc.app],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 1 and "No session found" in missing.stderr
