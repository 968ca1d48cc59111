"""A real two-party WebRTC call in Chromium, traced by a real rtcstats client from npm.

The JavaScript side lives in tests/e2e/browser/: `package.json` pins the clients
(`@jitsi/rtcstats`, `rtcstats`) and esbuild, `package-lock.json` pins everything below them.
`bundles()` installs them with `npm ci` (only when node_modules does not match the lock) and
bundles each client's entry file with esbuild into a small static site: `/<family>/page.html`
loads `client.js` (the bundled client, which exposes `window.rtcstatsClient`) and `call.js`
(the call, `window.call`). `static_site()` serves it on 127.0.0.1 and `chromium()` opens
Debian's Chromium through Playwright with fake camera and microphone; both stop in `finally`.

Without chromium, node or npm these tests skip with the reason, unless RTK_REQUIRE_BROWSER is
set (CI sets it): then they fail.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from support import ROOT, descendants, run_process, running

REQUIRE_ENV = "RTK_REQUIRE_BROWSER"
RECORD_ENV = "RTK_RECORD_RTCSTATS_FIXTURES"
CHROMIUM = "/usr/bin/chromium"
JS = ROOT / "tests" / "e2e" / "browser"
RECORDED = ROOT / "tests" / "data" / "rtcstats" / "recorded"
FAMILIES = {"jitsi": "jitsi-entry.js", "legacy": "legacy-entry.js"}
# @jitsi/rtcstats imports '@jitsi/js-utils/browser-detection', which js-utils' `exports` map
# resolves to dist/browser-detection (a folder, no file): point esbuild at its index.
ESBUILD_ALIAS = (
    "--alias:@jitsi/js-utils/browser-detection="
    "./node_modules/@jitsi/js-utils/dist/browser-detection/index.js"
)
CHROMIUM_FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Host candidates with addresses rather than mDNS names, which nothing here resolves.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
_STAMP = ".rtk-lock-sha256"


def unavailable(reason: str) -> None:
    """Skip with `reason`, or fail when the run requires the browser tests."""
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set, so the browser tests must run)")
    pytest.skip(reason)


def check_tools() -> None:
    missing = [
        name
        for name, found in (
            ("chromium", Path(CHROMIUM).is_file()),
            ("node", shutil.which("node") is not None),
            ("npm", shutil.which("npm") is not None),
        )
        if not found
    ]
    if missing:
        unavailable(f"the browser test needs {', '.join(missing)} (Debian: apt-get install "
                    "chromium nodejs npm)")  # fmt: skip
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the browser test needs the Python package playwright (the test extra)")


def _lock_digest() -> str:
    return hashlib.sha256((JS / "package-lock.json").read_bytes()).hexdigest()


def install_clients() -> None:
    """`npm ci` into tests/e2e/browser, unless node_modules was installed from this lock."""
    stamp = JS / "node_modules" / _STAMP
    if stamp.is_file() and stamp.read_text() == _lock_digest():
        return
    # --ignore-scripts: no package's install script runs (esbuild's binary comes as an
    # optional dependency, its postinstall only double-checks it).
    done = run_process(
        ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=JS, timeout=600
    )
    if done.returncode != 0:
        unavailable(f"npm ci failed in {JS.relative_to(ROOT)}: {done.stderr[-2000:]}")
    stamp.write_text(_lock_digest())


def bundles(site: Path) -> Path:
    """The static site: `/<family>/page.html` with its bundled client and the call."""
    check_tools()
    install_clients()
    esbuild = JS / "node_modules" / ".bin" / "esbuild"
    for family, entry in FAMILIES.items():
        out = site / family
        out.mkdir(parents=True, exist_ok=True)
        args = [str(esbuild), entry, "--bundle", "--format=iife", "--target=chrome100",
                f"--outfile={out / 'client.js'}", "--log-level=warning"]  # fmt: skip
        if family == "jitsi":
            args.append(ESBUILD_ALIAS)
        done = run_process(args, cwd=JS, timeout=120)
        assert done.returncode == 0, f"esbuild {entry}: {done.stderr}"
        for name in ("page.html", "call.js"):
            shutil.copyfile(JS / name, out / name)
    return site


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_site(root: Path) -> Iterator[str]:
    """Serve `root` on a free 127.0.0.1 port; yields the base URL. Stopped however it ends."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@contextmanager
def chromium(profile: Path, **options: Any) -> Iterator[Any]:
    """Debian's Chromium (never a downloaded one), headless, fake camera and microphone, a
    fresh profile in `profile`; yields a Playwright BrowserContext (`options` are its
    settings, e.g. viewport). Closed, with Playwright's driver, however the block ends."""
    with playwright_driver() as pw, chromium_context(pw, profile, **options) as context:
        yield context


@contextmanager
def playwright_driver() -> Iterator[Any]:
    """Playwright's driver (sync API), for several browser contexts of one test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@contextmanager
def chromium_context(pw: Any, profile: Path, **options: Any) -> Iterator[Any]:
    """One Chromium with its own profile, closed however the block ends."""
    context = pw.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True, **options
    )
    try:
        yield context
    finally:
        context.close()


def browser_leftovers() -> list[str]:
    """Command lines of this test process's descendants that are Chromium or Playwright's
    driver, still running (there should be none once `chromium()` has ended)."""
    found = []
    for pid in descendants(os.getpid()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if running(pid) and ("chromium" in cmd or "playwright" in cmd):
            found.append(cmd[:200])
    return found


def record(name: str, data: bytes) -> None:
    """Keep a dump downloaded from the collector as a fixture when RTK_RECORD_RTCSTATS_FIXTURES
    is set (tests/data/rtcstats/recorded/README.md)."""
    if os.environ.get(RECORD_ENV):
        RECORDED.mkdir(parents=True, exist_ok=True)
        (RECORDED / name).write_bytes(data)
