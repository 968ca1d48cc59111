"""Helpers of the dashboard's tests: a server with the demo data in an app of its own, and a
signed-in HTTP client that behaves like a same-site browser form."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from support import Server, running_server

ACCOUNT = "acct-dashboard"


@dataclass(frozen=True)
class Demo:
    server: Server
    app: str
    admin: str  # a token with admin on the app
    reader: str  # a token with read only

    def page(self, path: str) -> str:
        return f"/ui/apps/{self.app}{path}"


@contextmanager
def demo_server(data_dir: Path, database_url: str, **settings: str) -> Iterator[Demo]:
    """A real server, the demo data loaded into a new app by the real CLI, and two tokens."""
    with running_server(data_dir, database_url, RTK_AUTH_FAILURE_LIMIT="off",
                        RTK_SWEEP_INTERVAL="3600", **settings) as srv:  # fmt: skip
        app = f"app-{uuid.uuid4().hex[:10]}"
        srv.cli("demo", "--account", ACCOUNT, "--app", app)
        yield Demo(srv, app, srv.token(ACCOUNT, "admin", app=app), srv.token(ACCOUNT, "read", app=app))


def browser_like(base_url: str) -> httpx.Client:
    """Sends what a browser sends with a form of this site: its origin."""
    return httpx.Client(base_url=base_url, headers={"origin": base_url}, timeout=60)


def signed_in(base_url: str, token: str) -> httpx.Client:
    client = browser_like(base_url)
    answer = client.post("/ui/sign-in", data={"token": token, "next": "/ui/"})
    assert answer.status_code == 303, answer.text[-2000:]
    return client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)

