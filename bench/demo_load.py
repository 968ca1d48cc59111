"""Benchmark: the demo data set, generated and then loaded through the ingestion path into a
fresh SQLite database — what `make run` does on an empty database (budget: 60 s on 2 cores).

Prints the events by type, the share of peers with telemetry, the generation time, and the
load's wall-clock and CPU time (the load includes generating the events again, as `make run`
does). The machine's load average is printed too: on a shared machine it moves the wall time.

    .venv/bin/python bench/demo_load.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from rtk_sessions.cli.operations import load_demo
from rtk_sessions.config import Settings
from rtk_sessions.demo.events import generate_demo_events
from rtk_sessions.kit.timeutil import now_ms


def main() -> None:
    print(f"cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")
    started = time.perf_counter()
    events = generate_demo_events(now_ms())
    generated = time.perf_counter() - started
    kinds = Counter(e["type"] for e in events)
    peers = {e["peer_id"] for e in events if e["type"] == "peer.joined"}
    with_stats = {e["peer_id"] for e in events if e["type"] == "peer.stats"} & peers
    samples = sum(len(e["samples"]) for e in events if e["type"] == "peer.stats")
    print(f"events: {len(events):,} ({', '.join(f'{k} {n:,}' for k, n in kinds.most_common())})")
    print(f"peers: {len(peers):,}, with telemetry: {len(with_stats):,} "
          f"({len(with_stats) / len(peers):.0%}); stats samples: {samples:,}")  # fmt: skip
    print(f"generate: {generated:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(data_dir=Path(tmp))
        wall, cpu = time.perf_counter(), time.process_time()
        asyncio.run(load_demo(settings, "bench-account", "bench-app"))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"load (generate + ingest, SQLite): {wall:.1f} s wall, {cpu:.1f} s CPU")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
