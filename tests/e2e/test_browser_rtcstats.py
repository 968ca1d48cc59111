"""A real Chromium call traced by the real npm rtcstats clients into the live collector.

Chromium (Debian's, through Playwright) opens a page served from 127.0.0.1 that bundles
`@jitsi/rtcstats` 9.7.1 (the Jitsi 3.1_STANDARD protocol) or, in the second run, the legacy
`rtcstats` 5.2.0 (protocol 2.0). The page makes a call between two RTCPeerConnections with the
fake camera and microphone while the client streams to a real server process; the peer
report is read through the official SDK during the call and after it, and compared with what
the page itself read from getStats. The dumps the collector kept are downloaded (and kept as
fixtures when RTK_RECORD_RTCSTATS_FIXTURES is set: tests/data/rtcstats/recorded/).

Heavy and timing-sensitive: marked `serial` (runs alone after the parallel pass) and run in
the SQLite stage only.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Any

import httpx
import pytest
from cloudflare import Cloudflare

from browser_call import browser_leftovers, bundles, chromium, record, static_site
from files_scenario import sdk
from support import PG_ENV, Server, own_database, running_server

# The call costs ~40 s and what it proves does not depend on the database engine.
SQLITE_ONLY = pytest.mark.skipif(
    bool(os.environ.get(PG_ENV)), reason="a real browser call: runs in the SQLite stage only"
)
pytestmark = [pytest.mark.e2e, pytest.mark.serial, SQLITE_ONLY]

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
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def test_jitsi_client_call_in_chromium(site: Path, server: Server, tmp_path: Path) -> None:
    p = joined_peer(server, "jitsi")
    during: list[tuple[float, int, float]] = []  # (s into the call, audio entries, packets)

    def poll(elapsed: float) -> None:
        q = peer_report(p).quality
        entries = (q.audio_producer or []) if q is not None else []
        during.append((round(elapsed, 1), len(entries), last_counter(entries, "packets_sent")))

    identity = {"confName": p.meeting, "endpointId": p.peer, "displayName": "Chromium (jitsi)",
                "applicationName": "rtk-sessions browser test"}  # fmt: skip
    with static_site(site) as base, chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(f"{base}/jitsi/page.html")
        agent = page.evaluate("navigator.userAgent")
        page.evaluate(
            "o => rtcstatsClient.start(o)",
            {"endpoint": socket_base(server, p.credential), "meetingFqn": p.meeting,
             "identity": identity, "pollInterval": POLL_MS},
        )  # fmt: skip
        page.wait_for_function("rtcstatsClient.connected()", timeout=15_000)
        totals = run_call(page, CALL_S, during=poll)
        closes = page.evaluate("rtcstatsClient.closes")
    assert browser_leftovers() == []  # Chromium and Playwright's driver are gone
    assert closes and closes[0]["code"] == 3001, closes  # the client's own conference leave

    # The report had media while the call ran, and it grew.
    assert any(n for _, n, _ in during), during
    first = next(i for i, (_, n, _) in enumerate(during) if n)
    assert during[-1][1] > during[first][1] and during[-1][2] > during[first][2] > 0, during

    raw = settled_report(server, p)
    report = peer_report(p)
    q, meta = report.quality, report.metadata
    sent, received = totals["sent"], totals["received"]
    assert min(sent.values()) > 0 and set(sent) == set(received) == {"audio", "video"}, totals
    # Packets: the report's last counters against the page's own getStats at the end.
    measured = {
        "audio": (last_counter(q.audio_producer, "packets_sent"),
                  last_counter(q.audio_consumer, "packets_received")),
        "video": (last_counter(q.video_producer, "packets_sent"),
                  last_counter(q.video_consumer, "packets_received")),
    }  # fmt: skip
    print(f"\njitsi call: connected in {totals['connect_s']:.2f} s, up {totals['call_s']:.1f} s; "
          f"page sent/received {sent}/{received}; report {measured}; "
          f"report during the call {during}")  # fmt: skip
    for kind, (out, into) in measured.items():
        assert out == pytest.approx(sent[kind], rel=0.02), kind
        assert into == pytest.approx(received[kind], rel=0.02), kind
    pcs = raw["connections"]  # PC_0 sends, PC_1 receives
    assert pcs["PC_0"]["total_packets_sent"] == pytest.approx(sum(sent.values()), rel=0.02)
    assert pcs["PC_1"]["total_packets_received"] == pytest.approx(sum(received.values()), rel=0.02)
    assert min(pcs["PC_0"]["stats_reports"], pcs["PC_1"]["stats_reports"]) >= CALL_S - 2
    # Rates in plausible ranges for Chromium's fake devices (a 20 fps camera) over loopback.
    audio_kbps = mean(bitrates_kbps(q.audio_producer, "bytes_sent"))
    video_kbps = mean(bitrates_kbps(q.video_producer, "bytes_sent"))
    assert 5 < audio_kbps < 200 and 30 < video_kbps < 5000, (audio_kbps, video_kbps)
    for cumulative in (q.video_producer_cumulative, q.video_consumer_cumulative):
        assert 10 <= cumulative.frame_per_second.avg <= 31
    for cumulative in (q.audio_producer_cumulative, q.audio_consumer_cumulative):
        assert 4.0 <= cumulative.quality_mos.avg <= 4.5  # loopback: no loss, ~1 ms
    assert all(e.mos_quality is None or e.mos_quality >= 4.0 for e in q.audio_producer)
    # The ICE candidate pair: the page's own, in the figures and in the metadata.
    pair = totals["pair"]
    assert (pcs["PC_0"]["local_candidate_type"], pcs["PC_0"]["remote_candidate_type"],
            pcs["PC_0"]["local_protocol"]) == (pair["localType"], pair["remoteType"], "udp")  # fmt: skip
    pairs = meta.candidate_pairs.producing_transport
    assert pairs and all(x.local_candidate_type == "host" and x.nominated for x in pairs)
    assert max(x.packets_sent for x in pairs) > 0
    # The browser (its own User-Agent), the protocol, and the devices the page used.
    browser = meta.browser_metadata
    assert (browser.user_agent, browser.engine) == (agent, "Blink")
    assert browser.browser in ("Chrome", "Chromium", "HeadlessChrome")
    assert agent.split(f"{browser.browser}/")[1].startswith(browser.browser_version)
    assert (meta.sdk_name, meta.sdk_version) == ("rtcstats", "3.1_STANDARD")
    devices = {(u.device.kind, u.device.label) for u in meta.selected_device_updates}
    assert devices == {(f"{t['kind']}input", t["label"]) for t in totals["tracks"]}

    [dump] = streams(server, p)
    assert p.credential.encode() not in dump  # the credential is never kept
    record("chromium-jitsi.jsonl", dump)
    lines = [line for line in dump_lines(dump) if isinstance(line, list)]
    assert lines[0][0] == "connectionInfo" and lines[0][2]["clientProtocol"] == "3.1_STANDARD"
    assert lines[1][:3] == ["identity", None, identity]
    methods = [line[0] for line in lines]
    assert methods.count("getstats") >= 2 * (CALL_S - 2)


def test_legacy_client_call_in_chromium(site: Path, server: Server, tmp_path: Path) -> None:
    """rtcstats 5.2.0 calls the callback form of getStats on Chromium, which Chromium no longer
    has: its stream carries the API trace and the states, and no stats. The report says there
    were no media statistics (nothing measured, rather than zeros)."""
    p = joined_peer(server, "legacy")
    identity = {"user": p.peer, "conference": p.meeting}
    with static_site(site) as base, chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(f"{base}/legacy/page.html")
        agent = page.evaluate("navigator.userAgent")
        page.evaluate(
            "o => rtcstatsClient.start(o)",
            {"url": socket_base(server, p.credential), "identity": identity,
             "pollInterval": POLL_MS},
        )  # fmt: skip
        totals = run_call(page, LEGACY_CALL_S)
    assert browser_leftovers() == []
    print(f"\nlegacy call: {totals['call_s']:.1f} s; page sent {totals['sent']}")
    assert totals["sent"]["audio"] > 0  # the call itself carried media

    raw = settled_report(server, p)
    [dump] = streams(server, p)
    assert p.credential.encode() not in dump
    record("chromium-legacy.jsonl", dump)
    decoded = dump_lines(dump)
    assert decoded[0]["clientProtocol"] == "2.0" and decoded[0]["fileFormat"] == 2
    assert "/legacy/page.html" in decoded[0]["path"]  # the client appends the page's path
    lines = [line for line in decoded if isinstance(line, list)]
    methods = [line[0] for line in lines]
    assert "getstats" not in methods
    assert lines[methods.index("identity")][:3] == ["identity", None, identity]
    trace = ("navigator.mediaDevices.getUserMediaOnSuccess", "create", "addTrack",
             "createOffer", "setLocalDescription", "setRemoteDescription", "createAnswer",
             "onicecandidate", "addIceCandidate")  # fmt: skip
    assert set(trace) <= set(methods), set(trace) - set(methods)
    states = {(line[0], line[1], line[2]) for line in lines if line[0].endswith("statechange")}
    for pc in ("PC_0", "PC_1"):
        assert ("oniceconnectionstatechange", pc, "connected") in states
        assert ("onconnectionstatechange", pc, "connected") in states

    report = peer_report(p)
    q, meta = report.quality, report.metadata
    for name in ("audio_producer", "audio_consumer", "video_producer", "video_consumer"):
        assert getattr(q, name) == [], name
        cumulative = getattr(q, f"{name}_cumulative")
        assert cumulative is None or cumulative.packet_loss is None, name
    for pc in ("PC_0", "PC_1"):
        figures = raw["connections"][pc]
        assert figures["stats_reports"] == 0 and figures["connected_at"] is not None
        assert figures["total_packets_sent"] is figures["total_packets_received"] is None
    events = {(e.name, (e.metadata or {}).get("pc_id")) for e in meta.events}
    for pc in ("PC_0", "PC_1"):
        assert {("ice_connected", pc), ("connection_connected", pc)} <= events
    assert (meta.browser_metadata.user_agent, meta.sdk_version) == (agent, "2.0")
    devices = {(u.device.kind, u.device.label) for u in meta.selected_device_updates}
    assert devices == {(f"{t['kind']}input", t["label"]) for t in totals["tracks"]}
