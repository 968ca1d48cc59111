"""Schemathesis against our own OpenAPI document and a real server: whatever it generates,
no 5xx, and every response matches the documented status codes and schemas."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import run_process

pytestmark = pytest.mark.e2e


def test_no_input_gets_a_server_error(server: Any, tmp_path: Path) -> None:
    token = server.token("acct-fuzz", "read", "admin", "ingest", app="app-fuzz")
    seed = [
        {
            "id": "j1",
            "type": "peer.joined",
            "meeting_id": "m1",
            "occurred_at": "2026-10-01T10:00:00Z",
            "peer_id": "p1",
        }
    ]
    httpx.post(
        f"{server.base_url}/ingest/v1/accounts/acct-fuzz/apps/app-fuzz/events",
        json=seed,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).raise_for_status()
    config = tmp_path / "schemathesis.toml"
    # Three checks: no 5xx, documented statuses, documented shapes. The active session's write
    # calls answer a documented 501 (no media server): for them only the last two.
    config.write_text(
        '[parameters]\n"path.account_id" = "acct-fuzz"\n"path.app_id" = "app-fuzz"\n'
        "[checks]\nenabled = false\nnot_a_server_error.enabled = true\n"
        "response_schema_conformance.enabled = true\nstatus_code_conformance.enabled = true\n"
        "[[operations]]\n"
        'include-operation-id = ["KickAllParticipants", "KickParticipants", "CreatePoll"]\n'
        "checks.not_a_server_error.enabled = false\n"
    )
    done = run_process(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{server.base_url}/openapi.json",
            "-H",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--no-color",
        ],
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-2000:]
    # Every operation was exercised (sessions, files, summaries, peer reports, ingest, rtcstats
    # import, downloads by GET and HEAD, health, the LiveKit and RealtimeKit webhooks, live
    # rtcstats streams, their dumps and stream tokens, the active session and its write calls,
    # webhook management, delivery log and public key, daywise analytics).
    assert "Tested: 34" in done.stdout and " passed" in done.stdout, done.stdout[-2000:]
