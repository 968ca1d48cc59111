"""Multi-process metrics: the serving process removes only the files of processes that ended."""

from __future__ import annotations

import os
from pathlib import Path

from rtk_sessions.kit.metrics import remove_dead_files

NO_SUCH_PID = 4_194_305  # above Linux's largest pid_max: never a running process


def test_files_of_ended_processes_are_removed(tmp_path: Path) -> None:
    alive = os.getppid()
    kept = [tmp_path / f"counter_{alive}.db", tmp_path / f"histogram_{alive}.db"]
    gone = [
        tmp_path / f"counter_{NO_SUCH_PID}.db",
        tmp_path / f"gauge_livesum_{NO_SUCH_PID}.db",
        tmp_path / f"counter_{os.getpid()}.db",  # our pid, left by an earlier process
    ]
    other = tmp_path / "notes.txt"
    for file in [*kept, *gone, other]:
        file.write_bytes(b"")
    assert remove_dead_files(tmp_path) == len(gone)
    assert sorted(tmp_path.iterdir()) == sorted([*kept, other])
