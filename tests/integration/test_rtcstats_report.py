"""Every real dump, imported through the service into the real database, gives a peer report
whose figures agree with the independent reference (rtcstats-server's feature extractor):
the per-connection figures it carries, and the packet counters of its quality lists.

Tolerances and differences of definition are those of tests/unit/test_rtcstats.py (and
docs/rtcstats.md): exact counts, loss % within 0.01 points, Firefox's remote counts apart."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from rtk_sessions.auth.service import resolve_app
from rtk_sessions.cli.operations import ingest_events
from rtk_sessions.config import Settings
from rtk_sessions.ingest.rtcstats_import import import_dump
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import TALLY, Database, Tally
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.quality import repo as quality_repo
from rtk_sessions.quality.service import current_report, run_reports
from rtk_sessions.upkeep.jobs import build_state
from support import DATA

RTCSTATS = DATA / "rtcstats"
NAMES = sorted(p.stem for p in (RTCSTATS / "dumps").glob("*.jsonl"))
ACCOUNT = "acct-rtcstats"
CONSUMERS = ("audio_consumer", "video_consumer", "screenshare_audio_consumer",
             "screenshare_video_consumer")  # fmt: skip
PRODUCERS = tuple(c.replace("consumer", "producer") for c in CONSUMERS)


def last_counter(entries: list[dict[str, Any]], field: str) -> int:
    """Sum over streams of each stream's last cumulative counter."""
    last: dict[Any, int] = {}
    for entry in entries:
        last[(entry.get("mid"), entry["ssrc"])] = int(entry.get(field) or 0)
    return sum(last.values())


@pytest.mark.parametrize("name", NAMES)
async def test_report_agrees_with_the_reference(
    name: str, db: Database, app_id: str, tmp_path: Path
) -> None:
    state = dataclasses.replace(
        build_state(Settings(data_dir=tmp_path, database_url=db.url, job_workers=0)), db=db
    )
    data = (RTCSTATS / "dumps" / f"{name}.jsonl").read_bytes()
    # The peer joined before the call it recorded (the dumps are from 2020-2022).
    join = {"id": "j", "type": "peer.joined", "meeting_id": "m", "peer_id": "p",
            "occurred_at": 1_500_000_000_000}  # fmt: skip
    await ingest_events(db, state.settings, ACCOUNT, app_id, [join], 10)
    result = await import_dump(db, ACCOUNT, app_id, "p", None, data, now_ms(), state.settings)
    assert result.accepted > 0 and result.pending == 0
    async with db.read() as conn:
        app = AppRef(await resolve_app(conn, ACCOUNT, app_id), app_id)
    report = await current_report(state, app, "p")

    reference = json.loads((RTCSTATS / "results" / f"{name}-result.json").read_text())
    for pc, ref in reference[0]["features"]["aggregates"].items():
        ours = report["connections"][pc]
        where = f"{name} {pc}"
        assert ours["session_duration_ms"] == ref["pcSessionDurationMs"], where
        assert ours["ice_reconnects"] == ref["iceReconnects"], where
        assert ours["uses_relay"] == ref["usesRelay"], where
        pair = ref["candidatePairData"]
        assert (ours["local_candidate_type"], ours["remote_candidate_type"]) == (
            pair.get("localCandidateType"), pair.get("remoteCandidateType")), where  # fmt: skip
        totals = ref["trackAggregates"]
        assert ours["total_received_packets_lost"] == totals["totalReceivedPacketsLost"], where
        if not name.startswith("firefox"):  # Firefox: a difference of definition (unit test)
            assert ours["total_packets_sent"] == totals["totalPacketsSent"], where
            assert ours["total_packets_received"] == totals["totalPacketsReceived"], where
            assert abs(ours["received_packets_lost_pct"] - totals["receivedPacketsLostPct"]) <= 0.01

    # The quality lists carry the same counters: each stream's last sample, summed.
    quality = report["quality"]
    received = sum(last_counter(quality[s], "packets_received") for s in CONSUMERS)
    sent = sum(last_counter(quality[s], "packets_sent") for s in PRODUCERS)
    figures = report["connections"].values()
    assert received == sum(f["total_packets_received"] for f in figures)
    assert sent == sum(f["total_packets_sent"] for f in figures)


async def test_the_background_job_stores_the_report_reads_then_serve(
    db: Database, app_id: str, tmp_path: Path
) -> None:
    state = dataclasses.replace(
        build_state(Settings(data_dir=tmp_path, database_url=db.url, job_workers=0)), db=db
    )
    data = (RTCSTATS / "dumps" / f"{NAMES[0]}.jsonl").read_bytes()
    join = {"id": "j", "type": "peer.joined", "meeting_id": "m", "peer_id": "p",
            "occurred_at": 1_500_000_000_000}  # fmt: skip
    await ingest_events(db, state.settings, ACCOUNT, app_id, [join], 10)
    await import_dump(db, ACCOUNT, app_id, "p", None, data, now_ms(), state.settings)
    async with db.read() as conn:
        pk = await resolve_app(conn, ACCOUNT, app_id)
        assert await quality_repo.stored_report(conn, pk, "p") is None
    steps = Tally()
    counting = TALLY.set(steps)
    try:
        await run_reports(state, ACCOUNT, app_id, ["p", "never-joined"])
        # One transaction a named step: find the app; per peer, read; store only what was stale.
        assert steps.begun == 1 + (1 + 1) + 1
        steps.begun = 0
        await run_reports(state, ACCOUNT, app_id, ["p"])
        assert steps.begun == 1 + 1, "a current report is read, not stored again"
    finally:
        TALLY.reset(counting)
    async with db.read() as conn:
        stored = await quality_repo.stored_report(conn, pk, "p")
        assert await quality_repo.stored_report(conn, pk, "never-joined") is None
    assert stored is not None
    served = await current_report(state, AppRef(pk, app_id), "p")
    assert served == json.loads(stored[1])
