"""The API reference at /docs works without internet: Debian's Chromium (through Playwright)
opens it from a real server with every request off 127.0.0.1 refused, and Redoc, served from
the package's vendored file, renders the operations. No request tries to leave the machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from browser_call import browser_leftovers, chromium
from support import PG_ENV, Server, own_database, running_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.serial,
    pytest.mark.skipif(bool(os.environ.get(PG_ENV)), reason="a browser page: SQLite stage only"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("docs-server")
    with own_database(data) as url, running_server(data, url) as srv:
        yield srv


def test_the_reference_renders_with_no_internet(server: Server, tmp_path: Path) -> None:
    answer = httpx.get(f"{server.base_url}/docs", timeout=30)
    page_html = answer.text
    assert "img-src 'self' data:" in answer.headers["content-security-policy"]
    assert 'src="/static/redoc/redoc.standalone.js"' in page_html
    assert "cdn." not in page_html and "fonts.googleapis" not in page_html
    script = httpx.get(f"{server.base_url}/static/redoc/redoc.standalone.js", timeout=30)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")

    refused: list[str] = []
    asked: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with chromium(tmp_path / "profile") as browser:
        browser.route("**/*", only_loopback)
        browser.on("requestfinished", lambda r: asked.append(r.url))
        page = browser.new_page()
        page.goto(f"{server.base_url}/docs", wait_until="load")
        # Redoc draws every operation under a heading of its id; the sessions list is one.
        page.locator("h2", has_text="GetSessions").first.wait_for(timeout=30_000)
        title = page.locator("h1").first.inner_text(timeout=30_000)
    assert "rtk-sessions" in title
    # Redoc's footer names a logo on a CDN: the page's policy stops it before the network, so
    # no request left for another host, and none even reached the routing that would refuse it.
    assert asked and [u for u in asked if urlsplit(u).hostname != "127.0.0.1"] == []
    assert refused == []
    assert browser_leftovers() == []
