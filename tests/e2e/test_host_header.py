"""Download links never come from a forged Host header.

Without RTK_PUBLIC_URL, link routes answer only to the hosts RTK_ALLOWED_HOSTS allows (by
default the loopback names and the bind address) and build the link from that host; other
routes do not care. With RTK_PUBLIC_URL the Host is not consulted at all.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from files_scenario import ACCOUNT, build, ingest, sdk, session_of
from support import Server, running_server

pytestmark = pytest.mark.e2e


def prepared(srv: Server) -> tuple[str, str, dict[str, str]]:
    """(session URL prefix, a session id with chat, headers with a reading token)."""
    sc = build(f"app-{uuid.uuid4().hex[:8]}")
    ingest(srv, sc.app, sc.events)
    token = srv.token(ACCOUNT, "read", app=sc.app)
    sid = session_of(sdk(srv, token), sc, sc.meeting)
    base = f"{srv.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{sc.app}/sessions"
    return base, sid, {"Authorization": f"Bearer {token}"}


def test_links_take_only_allowed_hosts(server: Any) -> None:
    base, sid, auth = prepared(server)
    port = urlsplit(server.base_url).port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "LOCALHOST"):
        resp = httpx.get(f"{base}/{sid}/chat", headers={**auth, "Host": host}, timeout=30)
        assert resp.status_code == 200, resp.text
        link = resp.json()["data"]["chat_download_url"]
        assert link.startswith(f"http://{host}/files/chat/")
    # The link made for localhost works (the host is only a name for this server).
    local = httpx.get(f"{base}/{sid}/chat", headers={**auth, "Host": f"localhost:{port}"})
    assert httpx.get(local.json()["data"]["chat_download_url"], timeout=30).status_code == 200

    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example"):
        for route in ("chat", "transcript", "summary"):
            resp = httpx.get(f"{base}/{sid}/{route}", headers={**auth, "Host": host}, timeout=30)
            assert resp.status_code == 400, (host, route, resp.text)
            message = resp.json()["error"]["message"]
            assert "RTK_PUBLIC_URL" in message and "RTK_ALLOWED_HOSTS" in message
    # Routes that hand out no links do not judge the Host (docs/security.md).
    assert httpx.get(base, headers={**auth, "Host": "evil.example"}).status_code == 200


def test_a_public_url_is_used_whatever_the_host(tmp_path: Path, database_url: str) -> None:
    public = "https://rtk.example.test/api"
    with running_server(tmp_path, database_url, RTK_PUBLIC_URL=public) as srv:
        base, sid, auth = prepared(srv)
        for host in ("evil.example", f"127.0.0.1:{urlsplit(srv.base_url).port}"):
            resp = httpx.get(f"{base}/{sid}/chat", headers={**auth, "Host": host}, timeout=30)
            assert resp.status_code == 200, resp.text
            link = resp.json()["data"]["chat_download_url"]
            assert link.startswith(f"{public}/files/chat/")
        # Behind the proxy that strips /api, the link reaches this server's /files route.
        served = httpx.get(srv.base_url + link.removeprefix(public), timeout=30)
        assert served.status_code == 200 and "msg-1" in served.text
