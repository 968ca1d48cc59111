"""Nothing a test starts outlives it, even when the test fails: every process starts in a
group of its own, and the group is killed whole."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import run_process, running_server, spawned

pytestmark = pytest.mark.e2e

# A child that shrugs off SIGTERM and leaves a grandchild behind: the worst case for cleanup.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(sys.argv[1], "w") as out:
    out.write(str(grandchild.pid))
time.sleep(600)
"""


def _stat(proc_dir: Path) -> list[str]:
    """State, parent, process group… of a process ([] if it is gone)."""
    try:
        return (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return []


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    fields = _stat(Path(f"/proc/{pid}"))
    return bool(fields) and fields[0] != "Z"


def _live_members(pgid: int) -> list[int]:
    live = []
    for proc_dir in Path("/proc").iterdir():
        fields = _stat(proc_dir) if proc_dir.name.isdigit() else []
        if fields and fields[0] != "Z" and int(fields[2]) == pgid:
            live.append(int(proc_dir.name))
    return live


def _all_gone(*pids: int, group: int | None = None) -> bool:
    """None of `pids` and nothing of `group` is alive (a moment allowed for SIGKILL to land)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        members = _live_members(group) if group is not None else []
        if not members and not any(_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def test_a_failing_test_leaves_no_server_behind(tmp_path: Path, database_url: str) -> None:
    with pytest.raises(RuntimeError), running_server(tmp_path, database_url) as srv:
        pid = srv.proc.pid
        raise RuntimeError("the test body fails")
    assert _all_gone(pid, group=pid)


def _started(pid_file: Path) -> int:
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the grandchild never started"
        time.sleep(0.05)
    return int(pid_file.read_text())


def test_a_failing_test_leaves_no_grandchild_behind(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    args = [sys.executable, "-c", STUBBORN, str(pid_file)]
    with pytest.raises(RuntimeError), spawned(args, None, tmp_path / "log") as proc:
        grandchild = _started(pid_file)
        raise RuntimeError("the test body fails")
    assert _all_gone(proc.pid, grandchild, group=proc.pid)


def test_a_command_that_times_out_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    with pytest.raises(subprocess.TimeoutExpired):
        run_process([sys.executable, "-c", STUBBORN, str(pid_file)], timeout=3)
    grandchild = _started(pid_file)
    assert _all_gone(grandchild)
