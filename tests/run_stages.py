"""Run the suite as `make test` does: in parallel (pytest-xdist), then the tests that measure
the server's latency (marked `serial`) alone, so that no other test competes for the CPU
while they measure. Fails if either pass failed.

Usage: run_stages.py [-n WORKERS] [PATH ...]
"""

from __future__ import annotations

import os
import subprocess
import sys

NO_TESTS_COLLECTED = 5


def run(paths: list[str], workers: str, env: dict[str, str] | None = None) -> int:
    pytest = [sys.executable, "-m", "pytest"]
    parallel = subprocess.call([*pytest, "-n", workers, "-m", "not serial", *paths], env=env)
    alone = subprocess.call([*pytest, "-m", "serial", *paths], env=env)
    if alone == NO_TESTS_COLLECTED:
        alone = 0
    return parallel or alone


def parse(argv: list[str]) -> tuple[str, list[str]]:
    workers = "2"
    if argv[:1] == ["-n"]:
        workers, argv = argv[1], argv[2:]
    return workers, argv


if __name__ == "__main__":
    workers, paths = parse(sys.argv[1:])
    sys.exit(run(paths, workers, dict(os.environ)))
