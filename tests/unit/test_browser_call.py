"""The browser test's setup (tests/browser_call.py): the npm clients are pinned exactly and
locked, and a machine without the browser tools skips the test with the reason, or fails it
when RTK_REQUIRE_BROWSER is set (CI)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import browser_call
from browser_call import JS, REQUIRE_ENV

PINNED = {"@jitsi/rtcstats": "9.7.1", "rtcstats": "5.2.0"}


def test_the_clients_and_esbuild_are_pinned_and_locked() -> None:
    wanted = json.loads((JS / "package.json").read_text())["dependencies"]
    assert {k: wanted[k] for k in PINNED} == PINNED and "esbuild" in wanted
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in wanted.values()), wanted
    lock = json.loads((JS / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == wanted
    for name, version in wanted.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
    assert "tests/e2e/browser/node_modules/" in (JS.parents[2] / ".gitignore").read_text()


def test_without_chromium_the_test_skips_unless_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser_call, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs chromium"):
        browser_call.check_tools()
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="RTK_REQUIRE_BROWSER is set"):
        browser_call.check_tools()


def test_without_node_and_npm_the_test_skips_unless_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no node, no npm
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"needs (chromium, )?node, npm"):
        browser_call.check_tools()
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="must run"):
        browser_call.check_tools()
