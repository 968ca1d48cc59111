"""The operator CLI as a user runs it: bulk ingest, pending, rebuild, tokens, demo data."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import cli, stop_process_group

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
    done = cli(server.env, "ingest", str(path), "--account", "acct-cli", "--app", app_id)
    assert done.returncode == 2 and "Traceback" not in done.stderr
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

    bad = cli(server.env, "export", "transcript", sid, "--account", ACCOUNT, "--app", sc.app,
              "--format", "docx", "-o", str(tmp_path / "x"))  # fmt: skip
    assert bad.returncode == 2 and "CSV, JSON, SRT, VTT" in bad.stderr
    assert not (tmp_path / "x").exists()
    missing = cli(server.env, "export", "chat", str(uuid.uuid4()), "--account", ACCOUNT,
                  "--app", sc.app)  # fmt: skip
    assert missing.returncode == 2 and "No session found" in missing.stderr


def _one_error_line(done: Any) -> str:
    """A user's mistake: exit status 2, no traceback, the database line and one error line."""
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("database: "), done.stderr
    assert lines[1].startswith("error: ")
    return str(lines[1])


def test_a_bad_event_late_in_a_big_file_stores_nothing(
    server: Any, tmp_path: Path, app_id: str
) -> None:
    """2,400 lines, the one at line 2,201 invalid: the first batch (2,000) is not stored, and
    the problem is given as the file's line."""
    meeting = str(uuid.uuid4())
    lines = [json.dumps({"id": f"j{i}", "type": "peer.joined", "meeting_id": meeting,
                         "occurred_at": "2026-10-01T10:00:00Z", "peer_id": f"p{i}"})
             for i in range(2400)]  # fmt: skip
    lines[2200] = lines[2200].replace("2026-10-01T10:00:00Z", "soon")
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = cli(server.env, "ingest", str(path), "--account", "acct-cli", "--app", app_id)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "1 invalid event" in done.stderr and "nothing was stored" in done.stderr
    assert f"{path}:2201: occurred_at: not an RFC 3339 timestamp" in done.stderr
    # The app was never created: not even the first 2,000 events were stored.
    _one_error_line(cli(server.env, "pending", "--account", "acct-cli", "--app", app_id))


def test_mistakes_are_one_line_with_what_to_do(server: Any, tmp_path: Path) -> None:
    env = server.env
    missing = _one_error_line(cli(env, "ingest", str(tmp_path / "nope.jsonl"), "--account", "a",
                                  "--app", "b"))  # fmt: skip
    assert "nope.jsonl: No such file or directory" in missing
    unknown = _one_error_line(cli(env, "pending", "--account", "acct-cli", "--app", "no-such"))
    assert "No app found with id no-such" in unknown
    assert ("--data-dir" in unknown and "RTK_DATA_DIR" in unknown) or "RTK_DATABASE_URL" in unknown
    token = server.token("acct-cli", "read")
    server.cli("token", "revoke", token)
    again = _one_error_line(cli(env, "token", "revoke", token))
    assert "already revoked" in again and "token list" in again
    assert "must be among" in _one_error_line(
        cli(env, "token", "create", "--account", "a", "--permission", "write")
    )


def test_the_cli_says_which_database_it_uses(tmp_path: Path) -> None:
    """Relative to the current directory unless told, so it says where on every command;
    a PostgreSQL password is never shown."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "RTK_"))}
    done = cli(env, "token", "list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == f"database: SQLite {tmp_path / 'data' / 'rtk.db'}"
    assert done.stdout.splitlines()[0].split() == [
        "ID", "ACCOUNT", "APP", "PERMISSIONS", "CREATED", "LAST", "USED", "LABEL"
    ]  # fmt: skip
    url = "postgresql+asyncpg://rtk:s3cret-pw@127.0.0.1:9/rtk"  # nothing listens on port 9
    env["RTK_DATABASE_URL"] = url
    failed = _one_error_line(cli(env, "token", "list"))
    assert "rtk:***@127.0.0.1:9/rtk" in failed and "check RTK_DATABASE_URL" in failed
    assert "s3cret" not in failed


def test_import_rtcstats_names_the_cli_option(server: Any, tmp_path: Path, app_id: str) -> None:
    dump = tmp_path / "dump.jsonl"
    dump.write_text("{}\n")
    done = cli(server.env, "import-rtcstats", str(dump), "--peer", "p-new", "--account",
               "acct-cli", "--app", app_id)  # fmt: skip
    line = _one_error_line(done)
    assert "--meeting" in line and "?meeting_id" not in line


def _on_a_terminal(env: dict[str, str], *args: str) -> tuple[str, str]:
    """Run the CLI with stderr on a pseudo-terminal: (stdout, what the terminal showed)."""
    controller, terminal = pty.openpty()
    term = {k: v for k, v in env.items() if not k.startswith(("TTY_", "NO_COLOR", "FORCE_"))}
    term.update(TERM="xterm-256color", COLUMNS="100")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtk_sessions", *args], env=term, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=terminal, start_new_session=True,
    )  # fmt: skip
    os.close(terminal)
    shown = b""
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if select.select([controller], [], [], 1)[0]:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the command ended and closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        assert proc.wait(timeout=60) == 0, shown.decode(errors="replace")
    finally:
        os.close(controller)
        stop_process_group(proc, grace=5)
    return out, shown.decode(errors="replace")


def test_progress_shows_on_a_terminal_only(server: Any, tmp_path: Path, app_id: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in _events(str(uuid.uuid4()))) + "\n")
    ingest = ["ingest", str(path), "--account", "acct-cli", "--app", app_id]
    piped = cli(server.env, *ingest)  # stderr is a pipe: nothing but the database line
    assert piped.returncode == 0 and len(piped.stderr.strip().splitlines()) == 1, piped.stderr
    assert piped.stderr.startswith("database: ")
    out, shown = _on_a_terminal(server.env, *ingest)
    assert json.loads(out)["duplicates"] == 5 and "5/5" in shown
    out, shown = _on_a_terminal(server.env, "rebuild")
    assert out.startswith("rebuilt") and "rebuilding apps" in shown


def test_app_webhook_settings_are_checked_and_listed(
    server: Any, tmp_path: Path, app_id: str
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    env = server.env
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "rtk.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    private = tmp_path / "private.pem"
    private.write_text("not a key")
    where = ("--account", "acct-cli", "--app", app_id)
    out = server.cli("app", "set-realtimekit", *where, "--public-key-file", str(pem))
    assert f"/integrations/realtimekit/v1/accounts/acct-cli/apps/{app_id}" in out
    not_pem = _one_error_line(cli(env, "app", "set-realtimekit", *where,
                                  "--public-key-file", str(private)))  # fmt: skip
    assert "not a PEM public key" in not_pem
    plain = _one_error_line(cli(env, "app", "set-realtimekit", *where,
                                "--public-key-url", "http://example.test/key"))  # fmt: skip
    assert "must be an https:// URL" in plain
    secret = tmp_path / "secret"
    secret.write_text("\n")
    assert "API secret is empty" in _one_error_line(
        cli(env, "app", "set-livekit", *where, "--api-key", "k", "--api-secret-file", str(secret))
    )
    secret.write_text("a-livekit-secret-of-some-length\n")
    server.cli(
        "app", "set-livekit", *where, "--api-key", "devkey", "--api-secret-file", str(secret)
    )
    assert f"acct-cli/{app_id}  livekit, realtimekit" in server.cli("app", "list").splitlines()
