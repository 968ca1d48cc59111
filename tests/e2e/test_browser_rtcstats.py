"""A real Chromium call traced by the real npm rtcstats clients into the live collector.

Chromium (Debian's, through Playwright) opens a page served from 127.0.0.1 that bundles
`@jitsi/rtcstats` 9.7.1 (the Jitsi 3.1_STANDARD protocol) or, in the second run, the legacy
`rtcstats` 5.2.0 (protocol 2.0). The page makes a call between two RTCPeerConnections with the
fake camera and microphone while the client streams to a real server process; the peer
report is read through the official SDK during the call and after it, and compared with what
the page itself read from getStats. The dumps the collector kept are downloaded (and kept as
fixtures when RTK_RECORD_RTCSTATS_FIXTURES is set: tests/data/rtcstats/recorded/).

Heavy and timing-sensitive: marked `serial` (runs alone after the parallel pass) and run in
the SQLite stage only (`ONCE`).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudflare import Cloudflare

from browser_call import bundles, chromium, record, static_site
from files_scenario import sdk
from support import ONCE, Server, own_database, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.serial, ONCE]

ACCOUNT = "acct-browser"
CALL_S = 20  # the Jitsi call: long enough for ~20 getstats polls and several flushes
LEGACY_CALL_S = 8  # the legacy client sends no stats on Chromium: the trace needs less
POLL_MS = 1000  # the clients' getStats interval
FLUSH_S = "2"  # the collector turns the stream into telemetry this often


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundles(tmp_path_factory.mktemp("browser-site"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own: it flushes rtcstats streams every FLUSH_S seconds."""
    data = tmp_path_factory.mktemp("browser-server")
    with own_database(data) as url, running_server(
        data, url, RTK_RTCSTATS_FLUSH=FLUSH_S, RTK_AUTH_FAILURE_LIMIT="off"
    ) as srv:  # fmt: skip
        yield srv


@dataclass
class Peer:
    app: str
    meeting: str
    peer: str
    credential: str
    reads: Cloudflare
    started: float = field(default_factory=time.monotonic)


def joined_peer(server: Server, family: str) -> Peer:
    """A new app where a peer joined a meeting, and the rtcstats credential for that peer."""
    app = f"app-{family}-{uuid.uuid4().hex[:8]}"
    meeting, peer = str(uuid.uuid4()), f"peer-{family}"
    ingest = server.token(ACCOUNT, "ingest", app=app)
    join = {"id": f"join-{peer}", "type": "peer.joined", "meeting_id": meeting,
            "peer_id": peer, "display_name": f"Chromium ({family})",
            "occurred_at": int(time.time() * 1000) - 1000}  # fmt: skip
    resp = httpx.post(
        f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events",
        json=[join], headers={"Authorization": f"Bearer {ingest}"}, timeout=30,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    credential = server.cli(
        "token", "rtcstats", "--account", ACCOUNT, "--app", app, "--meeting", meeting,
        "--peer", peer, "--ttl", "600",
    ).strip().splitlines()[-1]  # fmt: skip
    reads = sdk(server, server.token(ACCOUNT, "read", app=app))
    return Peer(app, meeting, peer, credential, reads)


def socket_base(server: Server, credential: str) -> str:
    return server.base_url.replace("http://", "ws://") + f"/ingest/v1/rtcstats/t/{credential}"


def peer_report(p: Peer) -> Any:
    resp = p.reads.realtime_kit.sessions.get_participant_data_from_peer_id(
        p.peer, account_id=ACCOUNT, app_id=p.app
    )
    assert resp.data is not None and resp.data.participant is not None
    return resp.data.participant.peer_report


def raw_report(server: Server, p: Peer) -> dict[str, Any]:
    """The same report as JSON, with the fields the SDK does not model (`connections`)."""
    resp = httpx.get(
        f"{server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{p.app}"
        f"/sessions/peer-report/{p.peer}",
        headers={"Authorization": f"Bearer {server.token(ACCOUNT, 'read', app=p.app)}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    report: dict[str, Any] = resp.json()["data"]["participant"]["peer_report"]
    return report


def streams(server: Server, p: Peer) -> list[bytes]:
    """Every raw dump the collector kept for the app, downloaded."""
    headers = {"Authorization": f"Bearer {server.token(ACCOUNT, 'read', app=p.app)}"}
    base = f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{p.app}/rtcstats/streams"
    listed = httpx.get(base, headers=headers, timeout=30)
    assert listed.status_code == 200, listed.text
    out = []
    for stream in listed.json()["data"]["streams"]:
        got = httpx.get(f"{base}/{stream['id']}/dump", headers=headers, timeout=60)
        assert got.status_code == 200, got.text
        out.append(got.content)
    return out


def dump_lines(data: bytes) -> list[Any]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def run_call(page: Any, seconds: float, during: Any = None) -> dict[str, Any]:
    """Start the call, keep it up `seconds` (calling `during()` about every 2 s), stop the
    media, let the client poll the frozen counters twice, read the page's own totals, then
    stop the client and hang up. Returns the totals with the call's timings."""
    started = time.monotonic()
    tracks = page.evaluate("call.start()")
    connected = time.monotonic()
    while time.monotonic() - connected < seconds:
        if during is not None:
            during(time.monotonic() - connected)
        time.sleep(2)
    page.evaluate("call.quiet()")
    time.sleep(2.5 * POLL_MS / 1000)
    totals: dict[str, Any] = page.evaluate("call.totals()")
    page.evaluate("rtcstatsClient.stop()")
    page.evaluate("call.hangUp()")
    totals.update(tracks=tracks, connect_s=connected - started, call_s=time.monotonic() - connected)
    return totals


def settled_report(server: Server, p: Peer, timeout: float = 30) -> dict[str, Any]:
    """The raw report once two reads 2 s apart agree (the collector's last flush is in)."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        now = raw_report(server, p)
        if now == last:
            return now
        last = now
        time.sleep(2)
    raise AssertionError(f"the peer report still changed after {timeout} s")


def last_counter(entries: list[Any], name: str) -> float:
    """Sum over streams (ssrc) of the counter `name` in each stream's last entry."""
    last: dict[Any, float] = {}
    for e in entries:
        if getattr(e, name) is not None:
            last[e.ssrc] = getattr(e, name)
    return sum(last.values())


def bitrates_kbps(entries: list[Any], counter: str) -> list[float]:
    """Bitrate between consecutive entries of one stream, where bytes moved."""
    rates = []
    for a, b in itertools.pairwise(entries):
        if a.ssrc != b.ssrc:
            continue
        dt = (_ts(b.timestamp) - _ts(a.timestamp)) / 1000
        moved = getattr(b, counter) - getattr(a, counter)
        if dt > 0 and moved > 0:
            rates.append(moved * 8 / dt / 1000)
    return rates


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def test_jitsi_client_call_in_chromium(site: Path, server: Server, tmp_path: Path) -> None:
    p = joined_peer(server, "jitsi")
    seen_during: list[tuple[float, int]] = []

    def poll(elapsed: float) -> None:
        q = peer_report(p).quality
        n = len(q.audio_producer or []) if q is not None else 0
        seen_during.append((round(elapsed, 1), n))

    identity = {"confName": p.meeting, "endpointId": p.peer, "displayName": "Chromium (jitsi)",
                "applicationName": "rtk-sessions browser test"}  # fmt: skip
    with static_site(site) as base, chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(f"{base}/jitsi/page.html")
        page.evaluate(
            "o => rtcstatsClient.start(o)",
            {"endpoint": socket_base(server, p.credential), "meetingFqn": p.meeting,
             "identity": identity, "pollInterval": POLL_MS},
        )  # fmt: skip
        page.wait_for_function("rtcstatsClient.connected()", timeout=15_000)
        totals = run_call(page, CALL_S, during=poll)
        closes = page.evaluate("rtcstatsClient.closes")
    print(f"\njitsi call: page totals {totals}; report during the call {seen_during}")

    assert closes and closes[0]["code"] == 3001, closes  # the client's own conference leave
    # The report had media while the call ran, and grew.
    during = [n for _, n in seen_during]
    assert any(during), seen_during
    assert during[-1] > next(n for n in during if n), seen_during

    raw = settled_report(server, p)
    report = peer_report(p)
    q, meta = report.quality, report.metadata
    sent, received = totals["sent"], totals["received"]
    assert sent["audio"] > 0 and sent["video"] > 0, totals
    for kind, producer, consumer in (
        ("audio", q.audio_producer, q.audio_consumer),
        ("video", q.video_producer, q.video_consumer),
    ):
        assert last_counter(producer, "packets_sent") == pytest.approx(sent[kind], rel=0.02)
        assert last_counter(consumer, "packets_received") == pytest.approx(received[kind], rel=0.02)
    # The per-connection figures: PC_0 sends, PC_1 receives.
    pcs = raw["connections"]
    assert pcs["PC_0"]["total_packets_sent"] == pytest.approx(sum(sent.values()), rel=0.02)
    assert pcs["PC_1"]["total_packets_received"] == pytest.approx(sum(received.values()), rel=0.02)
    pair = totals["pair"]
    assert pcs["PC_0"]["local_candidate_type"] == pair["localType"]
    assert pcs["PC_0"]["remote_candidate_type"] == pair["remoteType"]
    assert pcs["PC_0"]["local_protocol"] == pair["protocol"] == "udp"
    # Rates in plausible ranges for Chromium's fake devices over loopback.
    audio_kbps = bitrates_kbps(q.audio_producer, "bytes_sent")
    video_kbps = bitrates_kbps(q.video_producer, "bytes_sent")
    assert audio_kbps and 5 < sum(audio_kbps) / len(audio_kbps) < 200, audio_kbps
    assert video_kbps and 30 < sum(video_kbps) / len(video_kbps) < 5000, video_kbps
    fps = q.video_producer_cumulative.frame_per_second.avg
    assert 5 <= fps <= 61, fps
    assert 5 <= q.video_consumer_cumulative.frame_per_second.avg <= 61
    mos = q.audio_producer_cumulative.quality_mos.avg
    assert 3.5 <= mos <= 4.5, mos  # loopback: no loss, tiny delay
    assert q.audio_consumer_cumulative.quality_mos.avg >= 3.5
    # Metadata: the browser and the devices the page used.
    assert meta.browser_metadata.engine == "Blink"
    assert meta.browser_metadata.browser in ("Chrome", "Chromium", "HeadlessChrome")
    labels = {t["label"] for t in totals["tracks"]}
    assert labels
    assert pcs["PC_0"]["candidate_pair_id"]

    [dump] = streams(server, p)
    assert p.credential.encode() not in dump  # the credential is never kept
    record("chromium-jitsi.jsonl", dump)
    lines = dump_lines(dump)
    methods = {line[0] for line in lines if isinstance(line, list)}
    assert {"getstats", "createOffer", "setRemoteDescription", "onconnectionstatechange"} <= methods


def test_legacy_client_call_in_chromium(site: Path, server: Server, tmp_path: Path) -> None:
    """rtcstats 5.2.0 calls the callback form of getStats on Chromium, which Chromium no longer
    has: its stream carries the API trace and the states, and no stats. The report says there
    were no media statistics (empty, not zeros)."""
    p = joined_peer(server, "legacy")
    identity = {"user": p.peer, "conference": p.meeting}
    with static_site(site) as base, chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(f"{base}/legacy/page.html")
        page.evaluate(
            "o => rtcstatsClient.start(o)",
            {"url": socket_base(server, p.credential), "identity": identity,
             "pollInterval": POLL_MS},
        )  # fmt: skip
        totals = run_call(page, LEGACY_CALL_S)
    print(f"\nlegacy call: page totals {totals}")
    assert totals["sent"]["audio"] > 0  # the call itself carried media

    raw = settled_report(server, p)
    [dump] = streams(server, p)
    assert p.credential.encode() not in dump
    record("chromium-legacy.jsonl", dump)
    lines = [line for line in dump_lines(dump) if isinstance(line, list)]
    methods = [line[0] for line in lines]
    assert "getstats" not in methods
    assert ["identity", None, identity] == lines[methods.index("identity")][:3]
    for method in ("create", "createOffer", "setLocalDescription", "setRemoteDescription",
                   "createAnswer", "addIceCandidate", "onicecandidate"):  # fmt: skip
        assert method in methods, method
    states = {(m, line[1], line[2]) for m, line in zip(methods, lines, strict=True)}
    for pc in ("PC_0", "PC_1"):
        assert ("oniceconnectionstatechange", pc, "connected") in states
        assert ("onconnectionstatechange", pc, "connected") in states

    report = peer_report(p)
    q = report.quality
    for name in ("audio_producer", "audio_consumer", "video_producer", "video_consumer"):
        assert getattr(q, name) == [], name
    assert raw["connections"]["PC_0"]["total_packets_sent"] == 0
    assert report.metadata.browser_metadata.engine == "Blink"
