"""Every stored rtcstats dump variant is read: rtcstats.com's file format 3 (compressed
methods and stats, time deltas) with its decompression checked frame by frame against
compression.js worked by hand, Jitsi dumps without a metadata line or with server-component
object lines, and the legacy file format 2."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstats_encoder import as_rtcstats_dump, stats_compression
from rtk_sessions.ingest.rtcstats import DumpError, parse_dump
from rtk_sessions.ingest.rtcstats_compression import (
    METHOD_IDS,
    STATE_VALUES,
    STATS_PROPERTY_IDS,
    STATS_TYPE_IDS,
    Frame,
    StatsDecompressor,
    decompress_method,
    decompress_stats_property,
    stats_decompression,
)
from rtk_sessions.ingest.rtcstats_import import read_dump
from rtk_sessions.ingest.validation import validate_events
from support import DATA

RTCSTATS = DATA / "rtcstats"
PEER, MEETING = "peer-1", "meeting-1"
T0 = 1_700_000_000_000
META3 = {"userAgent": "UA/1", "clientProtocol": "rtcstats#5.0", "fileFormat": 3, "startTime": T0}


def _parse(data: bytes) -> Any:
    return parse_dump(data, peer_id=PEER, meeting_id=MEETING)


def _format3(*frames: Any, meta: Any = None) -> bytes:
    """A file format 3 dump of these frames, the last without a line end (as stored)."""
    meta = meta or {"fileFormat": 3, "startTime": T0}  # no client description: no event
    lines = [b"RTCStatsDump", json.dumps(meta).encode()]
    lines += [json.dumps(f, separators=(",", ":")).encode() for f in frames]
    return b"\n".join(lines)


def _samples(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for e in events if e["type"] == "peer.stats" for s in e["samples"]]


def _valid(events: list[dict[str, Any]]) -> None:
    valid, errors = validate_events(events, int(time.time() * 1000))
    assert errors == []
    assert len(valid) == len(events)


# ------------------------------------------------------- the tables are compression.js's


def _js_table(source: str, name: str) -> dict[str, str]:
    """The `key: value` entries of `const <name> = {…};` in a JavaScript source (comments
    left out), both sides as text without quotes."""
    body = re.search(rf"const {name} = \{{(.*?)\n\}};", source, re.S)
    assert body is not None, name
    entries = {}
    for raw in body.group(1).splitlines():
        line = raw.split("//")[0].strip()
        if not line:
            continue
        key, value = (part.strip().strip("'\"") for part in line.rstrip(",").split(":", 1))
        entries[key] = value.strip("'\"")
    return entries


def test_our_tables_are_those_of_compression_js() -> None:
    source = (RTCSTATS / "rtcstats-com" / "compression.js").read_text()
    methods = _js_table(source, "methodTable")
    assert {k: str(v) for k, v in METHOD_IDS.items()} == methods
    assert len(methods) == 53
    for key, name in _js_table(source, "methodTableDecompression").items():
        assert decompress_method(int(key)) == name
    assert {k: str(v) for k, v in STATS_TYPE_IDS.items()} == _js_table(source, "statsTypeTable")
    properties = _js_table(source, "statsPropertyTable")
    assert {k: str(v) for k, v in STATS_PROPERTY_IDS.items()} == properties
    assert len(properties) == 160
    for key, name in _js_table(source, "statsPropertyTableDecompression").items():
        assert decompress_stats_property(key) == name
    for name, key in METHOD_IDS.items():  # every id decompresses, as a number and as text
        assert decompress_method(key) == decompress_method(str(key)) == name


def test_our_state_names_are_those_of_dump_js() -> None:
    source = (RTCSTATS / "rtcstats-com" / "dump.js").read_text()
    block = re.search(r"const STATE_VALUES = \{(.*?)\n\};", source, re.S)
    assert block is not None
    js: dict[str, dict[str, str]] = {}
    method = ""
    for line in block.group(1).splitlines():
        if m := re.fullmatch(r"\s*(\w+): \{", line):
            method = m.group(1)
            js[method] = {}
        elif m := re.fullmatch(r"\s*'(\"[a-z-]+\")': '([a-z-]+)',", line):
            js[method][m.group(1)] = m.group(2)
    assert js == STATE_VALUES
    assert sum(len(v) for v in js.values()) == 22


def test_unknown_keys_are_given_back_unchanged() -> None:
    assert decompress_method(":userRating") == ":userRating"
    assert decompress_method(99) == 99
    assert decompress_method(62) == 62  # never assigned
    assert decompress_method(True) is True
    assert decompress_stats_property("googFoo") == "googFoo"


# ------------------------------------- statsDecompression against frames worked by hand

T = T0 + 500
# Whole reports as Chrome gives them (three polls), and the frames compression.js sends for
# them, worked through by hand: ids renamed in order of appearance ("0" outbound, "1"
# media-source, "2" transport, "3" video outbound); references rewritten; the certificate,
# `isRemote` and `localCertificateId` dropped; timestamps equal to the newest moved to `t`;
# unchanged properties and reports left out; the gone media-source sent as null.
W1 = {
    "OT01A1234": {"id": "OT01A1234", "type": "outbound-rtp", "timestamp": T, "ssrc": 1234,
                  "kind": "audio", "packetsSent": 10, "bytesSent": 1000,
                  "mediaSourceId": "SA1", "transportId": "T01", "isRemote": False},
    "SA1": {"id": "SA1", "type": "media-source", "timestamp": T, "kind": "audio",
            "trackIdentifier": "trk", "audioLevel": 0.5},
    "T01": {"id": "T01", "type": "transport", "timestamp": T, "bytesSent": 1100,
            "localCertificateId": "CF1"},
    "CF1": {"id": "CF1", "type": "certificate", "timestamp": T, "fingerprint": "ab"},
    "OT01V99": {"id": "OT01V99", "type": "outbound-rtp", "timestamp": T, "ssrc": 99,
                "kind": "video", "packetsSent": 5, "transportId": "T01",
                "qualityLimitationDurations": {"none": 1.0, "cpu": 0.0}},
}  # fmt: skip
F1 = {
    "0": {"type": 2, "10": 1234, "11": "audio", "79": 10, "80": 1000, "81": "1", "5": "2"},
    "1": {"type": 12, "11": "audio", "17": "trk", "57": 0.5},
    "2": {"type": 5, "80": 1100},
    "3": {"type": 2, "10": 99, "11": "video", "79": 5, "5": "2",
          "96": {"none": 1.0, "cpu": 0.0}},
    "t": T,
}  # fmt: skip
W2 = copy.deepcopy(W1)
for _report in W2.values():
    _report["timestamp"] = T + 1000
W2["OT01A1234"].update(packetsSent=20, bytesSent=2000)
W2["T01"]["bytesSent"] = 2100
W2["OT01V99"]["qualityLimitationDurations"] = {"none": 2.0, "cpu": 0.0}
F2 = {"0": {"79": 20, "80": 2000}, "2": {"80": 2100}, "3": {"96": {"none": 2.0}}, "t": T + 1000}
W3 = copy.deepcopy(W2)
del W3["SA1"]
for _report in W3.values():
    _report["timestamp"] = T + 2000
W3["OT01A1234"].update(packetsSent=30, timestamp=T + 1500)
W3["T01"]["bytesSent"] = 2200
F3 = {"0": {"79": 30, "t": T + 1500}, "2": {"80": 2200}, "t": T + 2000, "1": None}
# What the decompressor gives back: the whole reports under the short ids.
D1 = {
    "0": {"type": "outbound-rtp", "ssrc": 1234, "kind": "audio", "packetsSent": 10,
          "bytesSent": 1000, "mediaSourceId": "1", "transportId": "2", "timestamp": T},
    "1": {"type": "media-source", "kind": "audio", "trackIdentifier": "trk",
          "audioLevel": 0.5, "timestamp": T},
    "2": {"type": "transport", "bytesSent": 1100, "timestamp": T},
    "3": {"type": "outbound-rtp", "ssrc": 99, "kind": "video", "packetsSent": 5,
          "transportId": "2", "qualityLimitationDurations": {"none": 1.0, "cpu": 0.0},
          "timestamp": T},
}  # fmt: skip
D2 = copy.deepcopy(D1)
for _report in D2.values():
    _report["timestamp"] = T + 1000
D2["0"].update(packetsSent=20, bytesSent=2000)
D2["2"]["bytesSent"] = 2100
D2["3"]["qualityLimitationDurations"] = {"none": 2.0, "cpu": 0.0}
D3 = copy.deepcopy(D2)
del D3["1"]
for _report in D3.values():
    _report["timestamp"] = T + 2000
D3["0"].update(packetsSent=30, timestamp=T + 1500)
D3["2"]["bytesSent"] = 2200


def test_the_test_compressor_gives_the_frames_worked_by_hand() -> None:
    """The frames below are what compression.js sends; the test compressor, used for the
    bigger tests, must agree with them."""
    id_map: dict[str, str] = {}
    frames = []
    base: dict[str, Any] = {}
    for whole in (W1, W2, W3):
        frames.append(stats_compression(base, whole, id_map))
        base = copy.deepcopy(whole)
    assert frames == [F1, F2, F3]
    assert id_map == {"OT01A1234": "0", "SA1": "1", "T01": "2", "OT01V99": "3"}


def test_frames_decompress_to_the_whole_reports() -> None:
    """Renamed properties and types come back; a report left out stays as it was with the
    new time; a nested object merges key by key; a report's own time beats `t`; null
    removes; the base is left unchanged."""
    one = stats_decompression({}, F1)
    assert one == D1
    two = stats_decompression(one, F2)
    assert two == D2
    assert one == D1  # the base is not modified
    three = stats_decompression(two, F3)
    assert three == D3
    assert list(three) == ["0", "2", "3"]  # JavaScript's order: ids ascending


def test_the_decompressor_keeps_the_whole_stats_per_connection() -> None:
    """In place, touching only what a frame names: a report left out keeps its old timestamp
    until read (the reader gives it the frame's `t` when it samples it)."""
    decompressor = StatsDecompressor()
    whole, frame = decompressor.decompress("PC_0", F1)
    assert whole == D1 and frame == Frame(["0", "1", "2", "3"], [], T)
    assert decompressor.decompress("PC_1", F1)[0] == D1
    same, frame = decompressor.decompress("PC_0", F2)
    assert same is whole and frame == Frame(["0", "2", "3"], [], T + 1000)
    assert whole["1"]["timestamp"] == T  # left out: `t` is given when read
    assert {k: v for k, v in whole.items() if k != "1"} == {k: v for k, v in D2.items() if k != "1"}
    with pytest.raises(ValueError, match="object of stats reports"):
        decompressor.decompress("PC_0", [1])
    with pytest.raises(ValueError, match="neither an object nor null"):
        decompressor.decompress("PC_0", {"0": {"79": 99}, "9": 5})
    assert whole["0"]["packetsSent"] == 20  # the bad frames changed nothing
    _, frame = decompressor.decompress("PC_0", F3)
    assert frame == Frame(["0", "2"], ["1"], T + 2000)
    assert whole.keys() == {"0", "2", "3"} and whole["0"] == D3["0"]


def test_a_crafted_dump_of_tiny_frames_costs_what_its_bytes_pay_for() -> None:
    """A frame of a few bytes (`{"t": …}`) restates every unchanged stream of its connection;
    beyond an allowance (50,000 plus one per 32 bytes read) they are no longer sampled, so
    work and events stay proportional to the dump's size."""
    first = {str(i): {"type": 2, "10": i, "11": "audio", "79": 5} for i in range(1000)}
    frames = [["g", "PC_0", {**first, "t": T0}, T0]]
    frames += [["g", "PC_0", {"t": T0 + k}, 1] for k in range(1, 3000)]
    data = _format3(*frames)
    samples = len(_samples(_parse(data).events))
    assert 1000 + 50_000 <= samples <= 1000 + 50_000 + len(data) // 32
    assert samples < 1000 * 3000 // 20


_NAMES = ["ssrc", "packetsSent", "bytesReceived", "kind", "googCustom", "jitter"]
_VALUES = st.one_of(
    st.integers(0, 3), st.sampled_from(["a", "b"]), st.lists(st.integers(0, 1), max_size=2)
)


@st.composite
def _polls(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Whole stats of successive polls: reports come and go, their values change, every
    report of a poll has the poll's time, a report keeps its properties while it lives (the
    format cannot say that a property went away) and refers to a transport that stays."""
    shapes: dict[str, list[str]] = {}
    polls = []
    for n in range(draw(st.integers(1, 6))):
        alive = draw(st.sets(st.sampled_from(["A", "B", "C", "D"]))) | {"T"}
        poll: dict[str, Any] = {}
        for oid in sorted(alive):
            names = shapes.setdefault(oid, draw(st.lists(st.sampled_from(_NAMES), unique=True)))
            report = {"id": oid, "type": "inbound-rtp", "timestamp": T0 + 1000 * n}
            report.update({name: draw(_VALUES) for name in names})
            report["nested"] = {"x": draw(st.integers(0, 2)), "y": 1}
            if oid != "T":
                report["transportId"] = "T"
            poll[oid] = report
        polls.append(poll)
    return polls


@settings(max_examples=150, deadline=None)
@given(polls=_polls())
def test_decompression_undoes_compression(polls: list[dict[str, Any]]) -> None:
    id_map: dict[str, str] = {}
    base: dict[str, Any] = {}
    whole: dict[str, Any] = {}
    for poll in polls:
        frame = json.loads(json.dumps(stats_compression(base, poll, id_map)))  # on the wire
        base = copy.deepcopy(poll)
        whole = stats_decompression(whole, frame)
        expected = {}
        for oid, report in poll.items():
            renamed = {k: v for k, v in report.items() if k != "id"}
            if "transportId" in renamed:
                renamed["transportId"] = id_map[renamed["transportId"]]
            expected[id_map[oid]] = renamed
        assert whole == expected


# ---------------------------------------------------------------- file format 3 dumps


def test_the_rtcstats_com_sample_dump_is_read() -> None:
    """gumonly.jsonl: the times add up from the first frame's absolute time; protocol 4.0's
    track array is [kind, id, stream id], so no label is taken from it."""
    data = (RTCSTATS / "rtcstats-com" / "gumonly.jsonl").read_bytes()
    events, dump = read_dump(data, PEER, MEETING, 2**20)
    assert (dump.skipped_lines, dump.figures) == (0, {})
    assert [(e["type"], e["occurred_at"]) for e in events] == [
        ("peer.metadata", 1758602115667),  # the metadata's startTime
        ("peer.metadata", 1758602115670 + 2153 + 1040),
    ]
    assert events[0]["sdk_version"] == "rtcstats#4.0"
    assert events[0]["user_agent"].startswith("Mozilla/5.0 (X11; Linux x86_64)")
    assert events[1]["selected_device"] == {"kind": "videoinput"}
    _valid(events)


def test_a_file_format_3_dump_without_its_magic_line_reads_the_same() -> None:
    """A metadata object with `fileFormat: 3` first is enough to read the frames that way."""
    data = (RTCSTATS / "rtcstats-com" / "gumonly.jsonl").read_bytes()
    assert data.startswith(b"RTCStatsDump\n")
    assert _parse(data[len(b"RTCStatsDump\n") :]).events == _parse(data).events


def test_frames_add_their_deltas_and_keep_their_extra_items_out_of_the_way() -> None:
    dump = _parse(_format3(
        [39, None, {"hardwareConcurrency": 8}, T0 + 5],
        [60, None, {"audio": {"deviceId": {"exact": "mic-1"}}}, "60-0", 1000],
        [61, None, [["audio", "t1", "Built-in Mic", "s1"]], "60-0", 10],
        [24, "PC_0", '"checking"', 1],
        [25, "PC_0", '"connected"', 1],
        [25, "PC_0", "failed", 1],
        ["close", None, 1001, 2353],
        meta=META3,
    ))  # fmt: skip
    assert dump.skipped_lines == 0
    assert (dump.events[0]["user_agent"], dump.events[0]["occurred_at"]) == ("UA/1", T0)
    got = [(e.get("name") or e.get("selected_device"), e["occurred_at"]) for e in dump.events[1:]]
    assert got == [
        ({"kind": "audioinput", "label": "Built-in Mic", "device_id": "mic-1"}, T0 + 1015),
        ("ice_checking", T0 + 1016),
        ("connection_connected", T0 + 1017),
        ("connection_failed", T0 + 1018),
    ]
    assert dump.figures["PC_0"].connection_failed


def _frames_with_stats() -> list[Any]:
    return [
        [39, "PC_0", {}, T0],
        [25, "PC_0", "connected", 400],
        ["g", "PC_0", F1, "connected-0", 100],  # the reason of the first poll
        ["g", "PC_0", F2, 1000],
        ["g", "PC_0", F3, 1000],
    ]


def test_stats_frames_become_samples_of_the_whole_reports() -> None:
    """A stream left out of a frame is unchanged (a sample at the new time); one sent as
    null is gone (no sample)."""
    dump = _parse(_format3(*_frames_with_stats()))
    assert dump.skipped_lines == 0
    samples = [
        (s["ssrc"], s["timestamp"], s.get("packets_sent"), s.get("bytes_sent"))
        for s in _samples(dump.events)
    ]
    assert samples == [
        (1234, T, 10, 1000), (99, T, 5, None),
        (1234, T + 1000, 20, 2000), (99, T + 1000, 5, None),
        (1234, T + 1500, 30, 2000), (99, T + 2000, 5, None),
    ]  # fmt: skip
    assert dump.figures["PC_0"].total_packets_sent == 35
    _valid(dump.events)


def test_a_removed_report_leaves_the_state() -> None:
    """F1 then a frame that removes the audio stream: only video is sampled after it."""
    dump = _parse(_format3(
        [25, "PC_0", "connected", T0], ["g", "PC_0", F1, 100], ["g", "PC_0", {"0": None, "t": T + 1}, 1]
    ))  # fmt: skip
    assert [(s["ssrc"], s["timestamp"]) for s in _samples(dump.events)] == [
        (1234, T), (99, T), (99, T + 1),
    ]  # fmt: skip


def test_a_frame_id_hashes_the_line_and_its_time() -> None:
    """The same frame bytes at two times are two events; the id is the sha256 of the line,
    a line feed and the absolute time in decimal."""
    line = [25, "PC_0", "connected", 1000]
    data = _format3([39, "PC_0", {}, T0], line, line)
    events = _parse(data).events
    raw = json.dumps(line, separators=(",", ":")).encode()
    assert [e["occurred_at"] for e in events] == [T0 + 1000, T0 + 2000]
    expected = [hashlib.sha256(raw + b"\n%d" % t).hexdigest() for t in (T0 + 1000, T0 + 2000)]
    assert [e["id"] for e in events] == [f"rtcstats:{PEER}:{d}" for d in expected]
    again = _parse(data + b"\n")  # a line end more or less changes nothing
    assert [e["id"] for e in again.events] == [e["id"] for e in events]


def test_custom_and_unknown_methods() -> None:
    """`:name` events of the application and unknown methods of no connection become peer
    events (a scalar value kept); an unknown method id is skipped, counted and explained,
    but its delta still moves the time."""
    dump = _parse(_format3(
        [39, None, {}, T0],
        [":userRating", None, 4, 10],
        [":note", "PC_0", {"text": "hi"}, 10],
        ["websocket", None, {"connectionTime": 12}, 10],
        ["somethingNew", None, "v", 10],
        ["somethingNew", "PC_0", "v", 10],
        [99, None, {}, 10],
        [25, "PC_0", "connected", 10],
        [":x" * 65, None, 1, 10],
    ))  # fmt: skip
    assert dump.skipped_lines == 2
    assert [(s.line, s.reason) for s in dump.skipped] == [
        (9, "the method (item 1) must be a name or a known method id, got a number 99"),
        (11, "an unknown method name longer than 128 characters"),
    ]
    events = [(e["name"], e["metadata"], e["occurred_at"]) for e in dump.events]
    assert events == [
        (":userRating", {"pc_id": None, "value": 4}, T0 + 10),
        (":note", {"pc_id": "PC_0"}, T0 + 20),
        ("somethingNew", {"pc_id": None, "value": "v"}, T0 + 40),
        ("connection_connected", {"pc_id": "PC_0"}, T0 + 70),
    ]
    _valid(dump.events)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ('[25,"PC_0","connected","soon"]', "the last item must be the milliseconds since the line before, got a string"),
        ('{"a":1}', "an object, not an array; a line is [method, connection id, value, …"),
        ("[25]", "1 items"),
        ("[25,", "cut short"),
    ],
)  # fmt: skip
def test_an_unusable_frame_is_skipped_and_the_time_goes_on(frame: str, reason: str) -> None:
    data = _format3([39, "PC_0", {}, T0]) + b"\n" + frame.encode() + b"\n"
    data += json.dumps([25, "PC_0", "connected", 5]).encode()
    dump = _parse(data)
    assert dump.skipped_lines == 1
    assert reason in dump.skipped[0].reason
    [event] = dump.events
    assert event["occurred_at"] == T0 + 5


def test_a_wrong_delta_moves_the_time_of_every_later_frame() -> None:
    """As in rtcstats-shared's reader, every delta adds up, a wrong one included: the
    frames after it have no plausible time and are skipped, saying so."""
    dump = _parse(_format3(
        [39, "PC_0", {}, T0], [25, "PC_0", "connected", -2 * T0], [24, "PC_0", "connected", 5]
    ))  # fmt: skip
    reason = "the time (the first line's last item plus every later line's) is not epoch"
    assert [s.line for s in dump.skipped] == [4, 5]
    assert all(s.reason.startswith(reason) for s in dump.skipped)


def test_a_3_item_frame_takes_the_time_before() -> None:
    dump = _parse(_format3([39, "PC_0", {}, T0 + 3], [25, "PC_0", "connected"]))
    assert [e["occurred_at"] for e in dump.events] == [T0 + 3]


def _pair_ids(event: dict[str, Any], back: dict[str, str]) -> dict[str, Any]:
    pair = dict(event["candidate_pair"])
    for key in ("local_candidate_id", "remote_candidate_id"):
        if key in pair:
            pair[key] = back[pair[key]]
    return {**event, "candidate_pair": pair}


# Chrome 96's dump holds legacy (goog…) stats, which rtcstats-js never sends: left out.
_REENCODED = [
    "chrome-standard-pc-reconnect",
    "firefox-standard-stats-sfu",
    "google-standard-stats-sfu",
    "safari-standard-stats",
]


@pytest.mark.parametrize("name", _REENCODED)
def test_a_jitsi_dump_stored_as_file_format_3_reads_the_same(name: str) -> None:
    """The calls of a real Jitsi dump, compressed as rtcstats-js compresses them and stored as
    rtcstats-server stores them, give the same events and figures. Differences by design:
    the metadata names the other protocol; stats ids are the short ones (mapped back here);
    Chrome 99's candidate `ip` is one of the properties rtcstats-js drops."""
    jitsi = (RTCSTATS / "dumps" / f"{name}.jsonl").read_bytes()
    data, id_maps = as_rtcstats_dump(jitsi)
    want, got = _parse(jitsi), _parse(data)
    assert got.skipped_lines == 0
    back = {short: oid for ids in id_maps.values() for oid, short in ids.items()}

    def body(event: dict[str, Any], short: bool) -> dict[str, Any]:
        event = {k: v for k, v in event.items() if k != "id"}
        if "candidate_pair" in event:
            if short:
                event = _pair_ids(event, back)
            if name == "google-standard-stats-sfu":
                pair = event["candidate_pair"]
                pair.pop("local_candidate_address", None)
                pair.pop("remote_candidate_address", None)
        if "samples" in event:
            event["samples"] = sorted(event["samples"], key=lambda s: (s["ssrc"], s["direction"]))
        event.pop("sdk_version", None)
        event.pop("sdk_type", None)
        return event

    assert [body(e, True) for e in got.events] == [body(e, False) for e in want.events]
    for pc, figures in want.figures.items():
        mine = copy.copy(got.figures[pc])
        if mine.candidate_pair_id is not None:
            mine.candidate_pair_id = back[mine.candidate_pair_id]
        if name == "google-standard-stats-sfu":
            mine.local_address, mine.remote_address = figures.local_address, figures.remote_address
        assert mine == figures
    _valid(got.events)


# ---------------------------------------------------------------- Jitsi and legacy dumps


def test_an_older_jitsi_dump_without_connection_info_is_read() -> None:
    data = (RTCSTATS / "jitsi-other" / "google-legacy-screenshare-p2p.jsonl").read_bytes()
    assert json.loads(data.splitlines()[0])[0] == "navigator.mediaDevices.getUserMedia"
    events, dump = read_dump(data, PEER, MEETING, 2**30)
    assert dump.skipped_lines == 0
    assert not any("user_agent" in e for e in events)
    assert {(s["kind"], s["direction"]) for s in _samples(events)} >= {("video", "outbound")}
    assert {"ice_connected", "connection_connected"} <= {e.get("name") for e in events}
    assert events[-1]["rtcstats_connections"].keys() == {"PC_0"}
    _valid(events)


def test_a_jitsi_component_dump_is_refused_for_holding_no_connection() -> None:
    data = (RTCSTATS / "jitsi-other" / "jigasi-sample.jsonl").read_bytes()
    with pytest.raises(DumpError, match=re.escape("the dump has no usable line (2 skipped")):
        _parse(data)


def test_object_lines_of_jitsi_server_components_are_unwrapped() -> None:
    stats = {"o1": {"type": "outbound-rtp", "kind": "audio", "ssrc": 5, "packetsSent": 3}}
    entry = json.dumps(["getstats", "PC_0", {**stats, "timestamp": T0 + 2}, T0 + 2, 4])
    lines = [
        ["connectionInfo", None, json.dumps({"userAgent": "UA/2", "clientType": "JVB"}), T0],
        {"statsSessionId": "s1", "type": "identity", "data": {"confName": "c"}, "timestamp": T0},
        {"statsSessionId": "s1", "type": "stats-entry", "data": entry, "timestamp": T0 + 3},
        {"statsSessionId": "s1", "type": "stats-entry", "data": json.dumps({"conf": 1})},
        {"statsSessionId": "s1", "type": "keepalive", "timestamp": T0 + 4},
        {"statsSessionId": "s1", "type": "mystery"},
        ["onconnectionstatechange", "PC_0", "connected", T0 + 5, 6],
    ]
    dump = _parse(b"\n".join(json.dumps(line).encode() for line in lines))
    assert [(s.line, s.reason[:40]) for s in dump.skipped] == [
        (4, "a stats entry of a Jitsi server componen"),
        (6, "an object line of type 'mystery'; a line"),
    ]
    got = [(e["type"], e["occurred_at"]) for e in dump.events]
    assert got == [("peer.metadata", T0), ("peer.stats", T0 + 2), ("peer.event", T0 + 5)]
    assert dump.events[0]["sdk_type"] == "JVB"


def test_a_legacy_file_format_2_dump_is_read() -> None:
    lines = [
        {"path": "/room", "origin": "https://x", "url": "https://x/room", "userAgent": "UA/3",
         "time": T0, "fileFormat": 2},
        ["publicIP", None, ["192.0.2.x"], T0 + 1],
        ["onconnectionstatechange", "PC_0", "connected", T0 + 2],
        ["close", None, None, T0 + 3],
    ]  # fmt: skip
    dump = _parse(b"\n".join(json.dumps(line).encode() for line in lines))
    assert dump.skipped_lines == 0
    assert [(e.get("user_agent") or e.get("name"), e["occurred_at"]) for e in dump.events] == [
        ("UA/3", T0), ("connection_connected", T0 + 2),
    ]  # fmt: skip


def test_sample_files_are_where_the_readme_says() -> None:
    readme = (RTCSTATS / "README.md").read_text()
    for path in [*(RTCSTATS / "jitsi-other").iterdir(), *(RTCSTATS / "rtcstats-com").iterdir()]:
        assert Path(path).name in readme


def test_a_removed_selected_pair_keeps_its_last_figures() -> None:
    """The transport ("0") selects pair "1" of a host and a srflx candidate; a later frame
    removes transport and pair: the pair event was sent once, and the figures keep it."""
    first = {
        "0": {"type": 5, "125": "1"},
        "1": {"type": 6, "148": "2", "149": "3", "150": True, "118": "succeeded"},
        "2": {"type": 7, "136": "host", "116": "udp", "134": "10.0.0.1", "135": 5000},
        "3": {"type": 8, "136": "srflx", "116": "udp", "134": "192.0.2.7", "135": 6000},
        "t": T,
    }
    dump = _parse(_format3(
        [25, "PC_0", "connected", T0], ["g", "PC_0", first, 100],
        ["g", "PC_0", {"0": None, "1": None, "t": T + 1000}, 1000],
    ))  # fmt: skip
    assert dump.skipped_lines == 0
    pairs = [e["candidate_pair"] for e in dump.events if "candidate_pair" in e]
    assert [(p["transport"], p["local_candidate_type"], p["remote_candidate_port"]) for p in pairs] == [
        ("producing", "host", 6000), ("consuming", "host", 6000),
    ]  # fmt: skip
    figures = dump.figures["PC_0"]
    assert (figures.candidate_pair_id, figures.local_address, figures.remote_address) == (
        "1", "10.0.0.1", "192.0.2.7",
    )  # fmt: skip
    assert figures.uses_relay is False


def test_a_repeat_is_dropped_within_the_last_4096_lines_that_gave_events() -> None:
    """The reader remembers the digests of the last 4,096 lines that gave events (memory stays
    bounded); a repeat from further back gives its event again, under the same id."""
    meta = ["connectionInfo", None, {"statsFormat": "chrome_standard"}, T0]
    repeated = ["onconnectionstatechange", "PC_0", "connected", T0]
    fillers = [["audioMutedChanged", None, i % 2 == 0, T0 + i] for i in range(1, 4097)]

    def ids(*lines: Any) -> list[str]:
        events = _parse(b"\n".join(json.dumps(line).encode() for line in lines)).events
        return [e["id"] for e in events if e["name"].startswith("connection_")]

    assert len(ids(meta, repeated, *fillers[:-1], repeated)) == 1
    first, again = ids(meta, repeated, *fillers, repeated)
    assert first == again
