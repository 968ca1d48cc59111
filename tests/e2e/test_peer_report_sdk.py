"""End to end: peer reports through the official SDK (strict), for a peer fed by telemetry
events and for one fed by a real rtcstats dump. Figures are worked out by hand."""

from __future__ import annotations

import gzip
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cloudflare
import httpx
import pytest
from cloudflare import Cloudflare

from files_scenario import iso, sdk
from rtcstats_encoder import as_rtcstats_dump
from rtk_sessions.ingest.rtcstats import DumpReader
from rtk_sessions.ingest.rtcstats_lines import numbered_lines
from support import DATA

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-quality"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36"
)
DUMPS = DATA / "rtcstats" / "dumps"


@dataclass
class Scenario:
    app: str
    meeting: str
    start: datetime
    events: list[dict[str, Any]]


def _event(eid: str, kind: str, meeting: str, when: datetime, **body: Any) -> dict[str, Any]:
    return {"id": eid, "type": kind, "meeting_id": meeting, "occurred_at": iso(when), **body}


def audio_out(second: int, start: datetime, sent: int, lost: int) -> dict[str, Any]:
    return {
        "timestamp": iso(start + timedelta(seconds=second)),
        "kind": "audio",
        "direction": "outbound",
        "ssrc": 1111,
        "packets_sent": sent,
        "packets_lost": lost,
        "bytes_sent": sent * 100,
        "jitter": 0.004,
        "round_trip_time": 0.05,
    }


def build() -> Scenario:
    app, m = f"app-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    b = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    s = timedelta(seconds=1)
    # Outbound audio, one sample a second: 50 packets per interval; 5 lost in the 3rd interval
    # only -> that interval's loss = 5 / (5 + 50) = 9.09 %, the other 8 intervals 0 %.
    lost = [0, 0, 0, 5, 5, 5, 5, 5, 5, 5]
    samples = [audio_out(i, b + 60 * s, 50 * i, lost[i]) for i in range(10)]
    events = [
        _event(
            "j",
            "peer.joined",
            m,
            b,
            peer_id="pa",
            display_name="Ada",
            user_id="u-ada",
            preset_name="group_call_host",
        ),
        _event(
            "md1",
            "peer.metadata",
            m,
            b + 2 * s,
            peer_id="pa",
            user_agent=CHROME_MAC,
            ip="8.8.8.8",
            device_info={"cpus": 8},
            sdk_name="web-core",
            sdk_version="1.2.3",
            selected_device={"device_id": "default", "kind": "audioinput", "label": "Mic"},
        ),
        _event("md2", "peer.metadata", m, b + 3 * s, peer_id="pa", sdk_version="1.2.4"),
        _event(
            "ev1",
            "peer.event",
            m,
            b + 4 * s,
            peer_id="pa",
            name="audio_off",
            metadata={"reason": "user"},
        ),
        _event("st1", "peer.stats", m, b + 70 * s, peer_id="pa", samples=samples),
        _event("l", "peer.left", m, b + 30 * 60 * s, peer_id="pa"),
        _event("j2", "peer.joined", m, b + 5 * s, peer_id="pdump", display_name="Dumpy"),
        _event("l2", "peer.left", m, b + 40 * 60 * s, peer_id="pdump"),
    ]
    return Scenario(app, m, b, events)


@pytest.fixture(scope="module")
def scenario(server: Any) -> Iterator[Scenario]:
    sc = build()
    token = server.token(ACCOUNT, "ingest", app=sc.app)
    resp = httpx.post(
        f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{sc.app}/events",
        json=sc.events,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    yield sc


@pytest.fixture(scope="module")
def client(server: Any, scenario: Scenario) -> Cloudflare:
    return sdk(server, server.token(ACCOUNT, "read", app=scenario.app))


def report(client: Cloudflare, sc: Scenario, peer: str, **query: Any) -> Any:
    resp = client.realtime_kit.sessions.get_participant_data_from_peer_id(
        peer, account_id=ACCOUNT, app_id=sc.app, **query
    )
    assert resp.data is not None and resp.data.participant is not None
    return resp.data.participant


def test_report_from_events(client: Cloudflare, scenario: Scenario) -> None:
    p = report(client, scenario, "pa", include_peer_events=True)
    assert (p.id, p.display_name, p.user_id, p.role) == ("pa", "Ada", "u-ada", "group_call_host")
    assert p.joined_at == iso(scenario.start) and p.duration == pytest.approx(30.0)
    assert p.peer_events and "PEER_JOINING" in [e.event_name for e in p.peer_events]
    meta = p.peer_report.metadata
    assert meta.browser_metadata.browser == "Chrome" and meta.browser_metadata.engine == "Blink"
    assert meta.device_info.cpus == 8 and meta.device_info.os == "macOS"
    assert meta.sdk_version == "1.2.4"  # the later peer.metadata wins
    assert meta.ip_information.country == "US" and meta.ip_information.ipv4 == "8.8.8.8"
    assert [e.name for e in meta.events] == ["audio_off"]
    assert meta.selected_device_updates[0].device.label == "Mic"
    quality = p.peer_report.quality
    assert len(quality.audio_producer) == 10  # one entry per sample
    assert quality.audio_producer[0].mos_quality is None  # a stream's first sample
    assert all(1 <= e.mos_quality <= 4.5 for e in quality.audio_producer[1:])
    cumulative = quality.audio_producer_cumulative
    assert cumulative.packet_loss.avg == pytest.approx(100 * 5 / 55 / 9, rel=1e-6)
    assert cumulative.packet_loss.api_5_or_greater_event_fraction == pytest.approx(1 / 9)
    assert cumulative.packet_loss.api_10_or_greater_event_fraction == 0
    assert cumulative.rtt.avg == pytest.approx(50.0)
    assert quality.video_consumer == [] and quality.video_consumer_cumulative is not None


def test_filters_select_sections(client: Cloudflare, scenario: Scenario, server: Any) -> None:
    only_device = report(client, scenario, "pa", filters="device_info").peer_report
    assert only_device.quality is None and only_device.metadata.ip_information is None
    assert only_device.metadata.browser_metadata.browser == "Chrome"
    only_quality = report(client, scenario, "pa", filters="quality_stats").peer_report
    assert only_quality.metadata is None or only_quality.metadata.device_info is None
    assert len(only_quality.quality.audio_producer) == 10
    # A comma-separated list (the Dyte form) through the raw API.
    token = server.token(ACCOUNT, "read", app=scenario.app)
    url = (
        f"{server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{scenario.app}"
        "/sessions/peer-report/pa"
    )
    headers = {"Authorization": f"Bearer {token}"}
    both = httpx.get(url, params={"filters": "events,ip_information"}, headers=headers, timeout=30)
    assert both.status_code == 200, both.text
    assert set(both.json()["data"]["participant"]["peer_report"]["metadata"]) == {
        "events",
        "ip_information",
    }
    bad = httpx.get(url, params={"filters": "device_info,cpu"}, headers=headers, timeout=30)
    assert bad.status_code == 400 and "quality_stats" in bad.json()["error"]["message"]


def test_unknown_peer_and_route_precedence(client: Cloudflare, scenario: Scenario) -> None:
    with pytest.raises(cloudflare.NotFoundError, match="peer id nobody"):
        report(client, scenario, "nobody")
    # "participants" after peer-report is a peer id, not /sessions/{id}/participants.
    with pytest.raises(cloudflare.NotFoundError, match="peer id participants"):
        report(client, scenario, "participants")


def test_report_from_a_real_dump(server: Any, client: Cloudflare, scenario: Scenario) -> None:
    token = server.token(ACCOUNT, "ingest", app=scenario.app)
    url = f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{scenario.app}/peers/pdump/rtcstats"
    data = (DUMPS / "google-standard-stats-sfu.jsonl").read_bytes()
    headers = {"Authorization": f"Bearer {token}"}
    first = httpx.post(url, content=data, headers=headers, timeout=60)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["accepted"] > 0
    again = httpx.post(url, content=data, headers=headers, timeout=60)
    assert again.json()["data"]["accepted"] == 0  # a re-upload is idempotent
    gzipped = httpx.post(url, content=gzip.compress(data), headers=headers, timeout=60)
    assert gzipped.json()["data"]["accepted"] == 0  # plain or gzip, the same events
    p = report(client, scenario, "pdump")
    quality = p.peer_report.quality
    assert quality.audio_producer and quality.video_consumer
    assert p.peer_report.metadata.browser_metadata.browser == "Chrome"


def _import(server: Any, app: str, peer: str, data: bytes, **params: str) -> httpx.Response:
    token = server.token(ACCOUNT, "ingest", app=app)
    return httpx.post(
        f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/peers/{peer}/rtcstats",
        content=data,
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )


def _pending(server: Any, app: str) -> int:
    token = server.token(ACCOUNT, "ingest", app=app)
    resp = httpx.get(
        f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/pending",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return int(resp.json()["data"]["total_count"]) if resp.status_code == 200 else -1


def test_data_that_is_not_a_dump_is_refused_whole(server: Any) -> None:
    app = server.app_with_joined_peer(ACCOUNT, "other", "m-z")
    lines = (DUMPS / "safari-standard-stats.jsonl").read_bytes().splitlines(keepends=True)
    pretty = json.dumps([json.loads(line) for line in lines[:20]], indent=2).encode()
    cases = {
        "pretty-printed JSON": (pretty, "is cut short or starts a JSON document spread over"),
        "no metadata line": (
            b'{"hello": 1}\n' + b"".join(lines[1:20]),
            "line 1 is an object, not a metadata line",
        ),
        "no usable line": (lines[0] + b"[not json\n" * 3, "no usable line after its metadata"),
        "50 MB of garbage": (random_bytes(50 * 2**20), "line 1 is not JSON"),
    }
    for what, (data, needle) in cases.items():
        resp = _import(server, app, "pz", data, meeting_id="m-z")
        assert resp.status_code == 400, (what, resp.text[:300])
        message = resp.json()["error"]["message"]
        assert message.startswith("The rtcstats dump cannot be read: ") and needle in message
        if what != "no usable line":
            assert "an rtcstats dump is JSON lines, one JSON value per line" in message, what
    assert _pending(server, app) == 0  # nothing stored: the dump's events would all wait


def test_unusable_lines_are_skipped_and_reported(server: Any) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    lines = (DUMPS / "safari-standard-stats.jsonl").read_bytes().splitlines(keepends=True)
    data = (
        b"".join(lines[:10]) + b"[not json\n"  # line 11
        + b'["frobnicate", "PC_0", null, 1650000000000]\n'  # unknown: read, gives nothing
        + b"".join(lines[10:40]) + lines[40][: len(lines[40]) // 2]  # line 43, cut short
    )  # fmt: skip
    resp = _import(server, app, "pz", data, meeting_id="m-z")
    assert resp.status_code == 200, resp.text
    body = resp.json()["data"]
    assert body["accepted"] > 0 and body["skipped_lines"] == 2
    assert body["skipped"] == [
        {"line": 11, "reason": "not valid JSON (JSON is malformed: invalid character (byte 5))"},
        {"line": 43, "reason": "cut short (truncated JSON)"},
    ]


def test_the_chrome_96_dump_with_a_line_without_timestamp_gives_a_report(server: Any) -> None:
    """rtcstats-server's own Chrome 96 test dump has a 3-item `e2eRtt` line. It is imported
    whole, and the report has the streams of both its connections (peer-to-peer PC_0 and the
    SFU's PC_1) with the packet totals rtcstats-server's extractor measured for them."""
    app = server.app_with_joined_peer(ACCOUNT, "p96", "m96")
    data = (DUMPS / "chrome96-standard-stats-p2p-add-transceiver.jsonl").read_bytes()
    resp = _import(server, app, "p96", data)
    assert resp.status_code == 200, resp.text
    body = resp.json()["data"]
    assert body["accepted"] > 0 and body["pending"] == 0
    assert (body["skipped_lines"], body["skipped"]) == (0, [])
    client = sdk(server, server.token(ACCOUNT, "read", app=app))
    p = client.realtime_kit.sessions.get_participant_data_from_peer_id(
        "p96", account_id=ACCOUNT, app_id=app
    )
    assert p.data is not None and p.data.participant is not None
    report = p.data.participant.peer_report
    assert report is not None and report.quality is not None and report.metadata is not None
    quality = report.quality
    # One entry per sample: audio out 3 (PC_0) + 2 (PC_1), video out 2 + 2, audio in 3 + 1,
    # video in 2 + 1 (stats read once per ~5 s over 20 s; PC_1 carried media briefly).
    assert [len(quality.audio_producer), len(quality.video_producer)] == [5, 4]
    assert [len(quality.audio_consumer), len(quality.video_consumer)] == [4, 3]
    assert report.metadata.browser_metadata.browser == "Chrome"
    raw = httpx.get(
        f"{server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{app}"
        "/sessions/peer-report/p96",
        headers={"Authorization": f"Bearer {server.token(ACCOUNT, 'read', app=app)}"},
        timeout=30,
    ).json()["data"]["participant"]["peer_report"]
    result = (
        DATA / "rtcstats" / "results" / "chrome96-standard-stats-p2p-add-transceiver-result.json"
    )
    for pc, ref in json.loads(result.read_text())[0]["features"]["aggregates"].items():
        ours, totals = raw["connections"][pc], ref["trackAggregates"]
        assert ours["is_p2p"] == ref["isP2P"], pc
        assert ours["session_duration_ms"] == ref["pcSessionDurationMs"], pc
        assert ours["total_packets_sent"] == totals["totalPacketsSent"], pc
        assert ours["total_packets_received"] == totals["totalPacketsReceived"], pc


def test_a_file_format_3_dump_gives_a_report_and_equals_its_live_stream(server: Any) -> None:
    """A Jitsi dump re-encoded as rtcstats.com stores a rtcstats-js connection (file format 3:
    compressed methods and stats, time deltas). Its events are first posted as a live
    collector would post them (read line by line, taken every 40 lines, the figures at the
    end); the upload of the stored dump then adds nothing, and the report has its streams."""
    app = server.app_with_joined_peer(ACCOUNT, "pff3", "mff3")
    data, _ = as_rtcstats_dump((DUMPS / "google-standard-stats-sfu.jsonl").read_bytes())
    token = server.token(ACCOUNT, "ingest", app=app)
    reader = DumpReader("pff3", "mff3")
    posted = 0

    def post(events: list[Any]) -> None:
        nonlocal posted
        if events:
            resp = httpx.post(
                f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events",
                json=events, headers={"Authorization": f"Bearer {token}"}, timeout=30,
            )  # fmt: skip
            assert resp.status_code == 200, resp.text
            assert resp.json()["data"]["accepted"] == len(events)
            posted += len(events)

    for index, (lineno, raw) in enumerate(numbered_lines(data)):
        reader.feed(lineno, raw)
        if index % 40 == 0:
            post(reader.take_events())
    post(reader.take_events())
    post(reader.finish_events())
    resp = _import(server, app, "pff3", data)
    assert resp.status_code == 200, resp.text
    body = resp.json()["data"]
    assert (body["accepted"], body["duplicates"], body["skipped_lines"]) == (0, posted, 0)
    client = sdk(server, server.token(ACCOUNT, "read", app=app))
    p = client.realtime_kit.sessions.get_participant_data_from_peer_id(
        "pff3", account_id=ACCOUNT, app_id=app
    )
    assert p.data is not None and p.data.participant is not None
    report = p.data.participant.peer_report
    assert report is not None and report.quality is not None and report.metadata is not None
    assert report.quality.audio_producer and report.quality.video_consumer
    assert report.metadata.browser_metadata.browser == "Chrome"


def test_the_rtcstats_com_sample_dump_is_imported(server: Any) -> None:
    app = server.app_with_joined_peer(ACCOUNT, "pgum", "mgum")
    data = (DATA / "rtcstats" / "rtcstats-com" / "gumonly.jsonl").read_bytes()
    resp = _import(server, app, "pgum", data)
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"] == {
        "accepted": 2, "duplicates": 0, "pending": 0, "skipped_lines": 0, "skipped": []
    }  # fmt: skip


def random_bytes(size: int) -> bytes:
    return random.Random(50).randbytes(size)


def test_a_dump_for_a_peer_not_joined_yet_waits(server: Any) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    data = (DUMPS / "firefox-standard-stats-sfu.jsonl").read_bytes()
    without = _import(server, app, "late", data)
    assert without.status_code == 400 and "meeting_id" in without.json()["error"]["message"]
    waiting = _import(server, app, "late", data, meeting_id="m-late")
    assert waiting.status_code == 200, waiting.text
    assert waiting.json()["data"]["pending"] == waiting.json()["data"]["accepted"] > 0
    client = sdk(server, server.token(ACCOUNT, "read", app=app))
    with pytest.raises(cloudflare.NotFoundError):
        client.realtime_kit.sessions.get_participant_data_from_peer_id(
            "late", account_id=ACCOUNT, app_id=app
        )
    token = server.token(ACCOUNT, "ingest", app=app)
    join = {"id": "j-late", "type": "peer.joined", "meeting_id": "m-late", "peer_id": "late",
            "occurred_at": 1_500_000_000_000}  # fmt: skip
    resp = httpx.post(
        f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events",
        json=[join], headers={"Authorization": f"Bearer {token}"}, timeout=30,
    )  # fmt: skip
    assert resp.json()["data"]["pending"] == 0
    p = client.realtime_kit.sessions.get_participant_data_from_peer_id(
        "late", account_id=ACCOUNT, app_id=app
    )
    assert p.data is not None and p.data.participant is not None
    report = p.data.participant.peer_report
    assert report is not None and report.quality is not None and report.quality.audio_consumer
    assert report.metadata is not None and report.metadata.browser_metadata is not None
    assert report.metadata.browser_metadata.browser == "Firefox"
