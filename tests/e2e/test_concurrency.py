"""Concurrent producers: two server processes on one database, batches racing in any order,
retries included, end up exactly where one orderly producer does."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from rtk_sessions.demo.events import generate_demo_events
from rtk_sessions.kit.timeutil import now_ms
from support import running_server

pytestmark = pytest.mark.e2e
ACCOUNT = "acct-race"
# What legitimately differs between the two apps: session ids (they hash the app id), LIVE
# minutes (they grow with the clock) and updated_at (the server time events were received).
VOLATILE = {"id", "organization_id", "minutes_consumed", "updated_at", "duration"}


def _post(base: str, token: str, app: str, batch: list[dict[str, Any]]) -> dict[str, int]:
    url = f"{base}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events"
    resp = httpx.post(url, json=batch, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert resp.status_code == 200, resp.text
    counts: dict[str, int] = resp.json()["data"]
    return counts


def _snapshot(base: str, token: str, app: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    prefix = f"{base}/accounts/{ACCOUNT}/realtime/kit/{app}/sessions"
    sessions = httpx.get(f"{prefix}?per_page=100", headers=headers, timeout=30).json()["data"][
        "sessions"
    ]
    out = []
    for s in sorted(sessions, key=lambda s: (s["associated_id"], s["started_at"])):
        people = httpx.get(
            f"{prefix}/{s['id']}/participants?per_page=100&include_peer_events=true",
            headers=headers,
            timeout=30,
        ).json()["data"]["participants"]
        stable = {k: v for k, v in s.items() if k not in VOLATILE}
        stable["participants"] = [
            {k: v for k, v in p.items() if k not in VOLATILE | {"peer_events"}} | {"id": p["id"]}
            for p in people
        ]
        out.append(stable)
    return out


def test_racing_batches_on_two_servers_match_one_orderly_producer(
    server: Any, tmp_path: Path, database_url: str
) -> None:
    events = generate_demo_events(now_ms(), seed=11, sessions=6)
    token = server.token(ACCOUNT, "ingest", "read")
    for start in range(0, len(events), 2000):
        _post(server.base_url, token, "orderly", events[start : start + 2000])

    rng = random.Random(5)
    shuffled = events[:]
    rng.shuffle(shuffled)
    batches = [shuffled[i : i + 40] for i in range(0, len(shuffled), 40)]
    batches += rng.sample(batches, 5)  # producers retrying after a timeout
    with running_server(tmp_path, database_url, RTK_SWEEP_INTERVAL="3600") as second:
        bases = [server.base_url, second.base_url]
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(
                pool.map(
                    lambda ib: _post(bases[ib[0] % 2], token, "racing", ib[1]), enumerate(batches)
                )
            )
    assert sum(r["accepted"] for r in results) == len(events)
    assert sum(r["duplicates"] for r in results) == sum(len(b) for b in batches) - len(events)
    orderly = _snapshot(server.base_url, token, "orderly")
    assert len(orderly) >= 6
    assert _snapshot(server.base_url, token, "racing") == orderly
