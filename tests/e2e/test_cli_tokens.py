"""Tokens as an operator sees them: `token list`, `last used`, and the demo token of
`make run` (reused, not minted per run), plus `make run` on a busy port."""

from __future__ import annotations

import os
import re
import socket
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import cli, run_cli, running_server, server_env

pytestmark = pytest.mark.e2e


def _listed(server: Any, *args: str) -> dict[str, list[str]]:
    """`token list` rows by token id (columns split on runs of 2+ spaces)."""
    done = cli(server.env, "token", "list", *args)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert re.split(r" {2,}", header) == [
        "ID", "ACCOUNT", "APP", "PERMISSIONS", "CREATED", "LAST USED", "LABEL"
    ]  # fmt: skip
    return {row.split()[0]: re.split(r" {2,}", row.strip()) for row in rows}


def _read(server: Any, token: str, app: str) -> None:
    resp = httpx.get(
        f"{server.base_url}/accounts/acct-list/realtime/kit/{app}/sessions",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text


def test_token_list_shows_everything_but_the_secret(server: Any, app_id: str) -> None:
    server.cli("token", "create", "--account", "acct-list", "--app", app_id,
               "--permission", "ingest")  # make the app  # fmt: skip
    used = server.token("acct-list", "read", app=app_id)
    unused = server.token("acct-list", "read", "admin")
    used_id, unused_id = used.split("_")[1], unused.split("_")[1]
    _read(server, used, app_id)
    rows = _listed(server)
    assert rows[used_id][1:4] == ["acct-list", app_id, "read"]
    assert rows[unused_id][1:4] == ["acct-list", "*", "admin,read"]
    assert rows[unused_id][5] == "never"
    first_use = rows[used_id][5]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first_use)
    # Stamped at most once a minute: a second request now leaves it as it was.
    _read(server, used, app_id)
    assert _listed(server)[used_id][5] == first_use
    listing = cli(server.env, "token", "list").stdout
    assert used.split("_", 2)[2] not in listing and unused.split("_", 2)[2] not in listing

    server.cli("token", "revoke", used)
    assert used_id not in _listed(server)
    assert "[revoked " in _listed(server, "--revoked")[used_id][-1]


def _banner_token(log: Path) -> str:
    match = re.search(r"API token\s+(rtk_\S+)", log.read_text())
    assert match, log.read_text()[-2000:]
    return match.group(1)


def test_make_run_reuses_its_demo_token(tmp_path: Path, database_url: str) -> None:
    """The demo token is kept (0600) in the data dir and printed again on the next run, as
    long as the database accepts it; revoked, a new one replaces it."""
    # With an app in the database --demo-if-empty loads nothing: this is about the token.
    run_cli(server_env(tmp_path, database_url), "token", "create", "--account", "acct-list",
            "--app", "app-demo-token", "--permission", "read")  # fmt: skip
    saved = tmp_path / "demo-token"
    with running_server(tmp_path, database_url, "--demo-if-empty") as srv:
        first = _banner_token(srv.log)
    assert saved.read_text().strip() == first
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    with running_server(tmp_path, database_url, "--demo-if-empty") as srv:
        assert _banner_token(srv.log) == first
        srv.cli("token", "revoke", first)
    with running_server(tmp_path, database_url, "--demo-if-empty") as srv:
        fresh = _banner_token(srv.log)
        assert fresh != first and saved.read_text().strip() == fresh
        resp = httpx.get(f"{srv.base_url}/accounts/demo-account/realtime/kit/demo-app/sessions",
                         headers={"Authorization": f"Bearer {fresh}"}, timeout=10)  # fmt: skip
        assert resp.status_code in (200, 404)  # authenticated; the demo app may not exist here


def test_make_run_on_a_busy_port_says_which_port_to_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {"RTK_DATA_DIR": str(tmp_path), "RTK_PORT": str(port), "RTK_HOST": "127.0.0.1"}
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "RTK_"))}
        done = cli({**clean, **env}, "serve", "--demo-if-empty", timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf"error: port {port} is busy: RTK_PORT=\d+ make run, .*", error), error
    assert "API token" not in done.stdout and not (tmp_path / "demo-token").exists()
    assert not (tmp_path / "rtk.db").exists()  # nothing loaded, nothing minted
