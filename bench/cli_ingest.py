"""Benchmark: `rtk-sessions ingest FILE` checks the whole file, then stores it (two passes).

The demo data set (seed 7, 30,091 events) written as JSON lines, repeated `--copies` times
with fresh ids. Measures the first pass (validation only) and its peak Python memory
(tracemalloc), then the second pass (storing, batches of 2,000) into a fresh SQLite database,
so the first pass's cost can be read against the whole load.

    .venv/bin/python bench/cli_ingest.py [--copies 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import tracemalloc
from pathlib import Path

import msgspec

from rtk_sessions.cli.event_files import batch_size, check_file, store_file
from rtk_sessions.config import Settings
from rtk_sessions.demo.events import generate_demo_events
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.migrate import upgrade_async
from rtk_sessions.kit.timeutil import now_ms


def _nothing(_: int) -> None:
    pass


def write_file(path: Path, copies: int, now: int) -> int:
    events = generate_demo_events(now)
    count = 0
    with path.open("wb") as out:
        for copy in range(copies):
            for event in events:
                line = dict(
                    event, id=f"{event['id']}-{copy}", meeting_id=f"{event['meeting_id']}-{copy}"
                )
                out.write(msgspec.json.encode(line) + b"\n")
                count += 1
    return count


async def store(path: Path, scratch: Path, now: int) -> float:
    settings = Settings(data_dir=scratch)
    await upgrade_async(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    try:
        started = time.perf_counter()
        await store_file(db, settings, "bench", "bench", path, batch_size(2000), now, _nothing)
        return time.perf_counter() - started
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=3)
    args = parser.parse_args()
    now = now_ms()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "events.jsonl"
        events = write_file(path, args.copies, now)
        size_mb = path.stat().st_size / 1e6
        started = time.perf_counter()
        check = check_file(path, batch_size(2000), now, _nothing)
        checking = time.perf_counter() - started
        assert check.invalid == 0, check.problems
        tracemalloc.start()  # a second, traced run: tracing slows Python down several times
        check_file(path, batch_size(2000), now, _nothing)
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        storing = asyncio.run(store(path, Path(scratch), now))
    print(f"{events} events, {size_mb:.0f} MB of JSON lines")
    print(f"pass 1, check: {checking:.1f} s ({events / checking:,.0f} events/s), "
          f"peak {peak_mb:.0f} MB")  # fmt: skip
    print(f"pass 2, store: {storing:.1f} s ({events / storing:,.0f} events/s)")
    print(f"the check is {100 * checking / (checking + storing):.0f}% of the load")


if __name__ == "__main__":
    main()
