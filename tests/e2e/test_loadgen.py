"""bench/loadgen.py works end to end on a tiny data set: it starts its own server, loads
through the ingest API, drives every kind of read without a failure, samples the server's
RSS, and stops the server. It checks that the script works, not how fast anything is."""

from __future__ import annotations

import os
import re
import sys

import pytest

from support import ONCE, ROOT, run_process, running

pytestmark = [pytest.mark.e2e, ONCE]
SCRIPT = str(ROOT / "bench" / "loadgen.py")
KINDS = [
    "list", "search", "filter_status", "filter_participants", "filter_dates", "sort",
    "details", "participants_raw", "participants_consolidated", "participants_search",
    "peer_report",
]  # fmt: skip


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RTK_", "CLOUDFLARE_"))}


def test_loads_reads_and_samples_rss_against_its_own_server() -> None:
    args = [sys.executable, SCRIPT, "--start-server", "--sessions", "20", "--participants", "3",
            "--concurrency", "4", "--duration", "1", "--soak", "1", "--rss-every", "0.25",
            "--settle", "0", "--trace-memory"]  # fmt: skip
    done = run_process(args, _env(), timeout=240)  # a shared CI machine can be slow
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    loaded = re.search(
        r"loaded 20 sessions: ([\d,]+) events .*accepted ([\d,]+), duplicates 0", out
    )
    assert loaded and loaded[1] == loaded[2], out
    rows = {
        line.split("|")[1].strip(): line.split("|")
        for line in out.splitlines()
        if line.startswith("| ")
    }
    for kind in KINDS:
        assert kind in rows, out
        assert int(rows[kind][2].replace(",", "")) > 0 and rows[kind][7].strip() == "0", rows[kind]
    assert rows["**all**"][7].strip() == "0", out
    assert re.search(r"RSS, server process: start [\d.]+ MiB, end [\d.]+ MiB, max [\d.]+ MiB", out)
    assert re.search(r"client CPU \d+% of one core; server CPU \d+% of one core", out), out
    assert re.search(r"Python allocations made during the soak .*: [\d.]+ MiB", out), out
    pid = re.search(r"server pid (\d+)", done.stderr)
    assert pid and not running(int(pid[1])), done.stderr


def test_refuses_a_server_off_loopback() -> None:
    for url in ("http://10.1.2.3:8787", "http://localhost:8787", "http://[::2]:80"):
        done = run_process([sys.executable, SCRIPT, "--url", url, "--token", "t"], _env(), 30)
        assert done.returncode != 0 and "loopback only" in done.stderr.replace("\n", " "), done
