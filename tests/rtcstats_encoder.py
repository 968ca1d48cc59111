"""What the rtcstats-js client does before sending, for tests: `stats_compression` follows
rtcstats/rtcstats `packages/rtcstats-shared/compression.js` `statsCompression` (commit
406aeaedf0b0914034d25e731a451ead86a4b137) step by step, and `as_rtcstats_dump` re-encodes a
jitsi dump as rtcstats-server stores a rtcstats-js connection (file format 3: `RTCStatsDump`,
a metadata object, compressed methods and stats, time deltas). The decompressor under test
never sees this module's state; only the bytes it writes."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from rtk_sessions.ingest.rtcstats_compression import (
    METHOD_IDS,
    STATS_PROPERTY_IDS,
    STATS_TYPE_IDS,
)
from rtk_sessions.ingest.rtcstats_lines import numbered_lines

_MISSING: Any = object()


def _strict_equal(a: Any, b: Any) -> bool:
    """JavaScript's `===` on JSON values: objects and arrays are never equal (they are
    different copies), numbers compare by value, other types must match."""
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    numbers = (int, float)
    if type(a) in numbers and type(b) in numbers:
        return bool(a == b)
    return type(a) is type(b) and a == b


def _stringify(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def stats_compression(
    base: dict[str, Any], new: dict[str, Any], id_map: dict[str, str]
) -> dict[str, Any]:
    """compression.js `statsCompression(baseStats, newStats, statsIdMap)`; `id_map` is
    updated like `statsIdMap`."""
    delta = copy.deepcopy(new)
    removed = [oid for oid in base if oid in id_map and oid not in delta]

    for oid in list(delta):
        report = delta[oid]
        report.pop("id", None)
        if oid not in base:
            continue
        old = base[oid]
        for name in list(report):
            value = report[name]
            if _strict_equal(value, old.get(name, _MISSING)):
                del report[name]
            elif isinstance(value, list):
                if name in old and _stringify(value) == _stringify(old[name]):
                    del report[name]
            elif isinstance(value, dict):
                for key in list(value):
                    if isinstance(old.get(name), dict) and _strict_equal(
                        old[name].get(key, _MISSING), value[key]
                    ):
                        del value[key]
                if not value:
                    del report[name]
        if not report:
            del delta[oid]

    latest = -math.inf
    for report in delta.values():
        stamp = report.get("timestamp")
        if type(stamp) in (int, float) and stamp > latest:
            latest = stamp
    for oid in list(delta):
        report = delta[oid]
        if _strict_equal(report.get("timestamp", _MISSING), latest):
            del report["timestamp"]
            if not report:
                del delta[oid]
    if latest != -math.inf:
        delta["t"] = latest

    for oid in list(delta):  # removeCertificateStats
        report = delta[oid]
        if not isinstance(report, dict):
            continue
        if report.get("type") == "certificate":
            del delta[oid]
        if report.get("type") == "transport":
            report.pop("localCertificateId", None)
            report.pop("remoteCertificateId", None)
    for report in delta.values():  # removeObsoleteProperties
        if isinstance(report, dict):
            for name in ("isRemote", "ip", "mediaType", "writable"):
                report.pop(name, None)

    for oid in list(delta):
        if oid not in id_map and isinstance(delta[oid], dict):
            id_map[oid] = str(len(id_map))
    for oid in list(delta):
        report = delta[oid]
        if not isinstance(report, dict):
            continue
        new_id = id_map[oid]
        if oid == new_id:
            continue
        delta[new_id] = report
        for name in list(report):
            if name.endswith("Id"):
                target = report[name]
                mapped = id_map.get(target) if isinstance(target, str) else None
                if mapped is None:
                    del report[name]  # undefined: left out by JSON.stringify
                else:
                    report[name] = mapped
        del delta[oid]

    for oid, report in delta.items():
        if not isinstance(report, dict):
            continue
        for name in list(report):
            short = str(STATS_PROPERTY_IDS.get(name, name))
            if short == name:
                if name == "type":
                    report["type"] = STATS_TYPE_IDS.get(report["type"], report["type"])
                continue
            report[short] = report.pop(name)
        delta[oid] = report

    for oid in removed:
        delta[id_map.get(oid, oid)] = None
    return delta


def jitsi_decompression(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """jitsi/rtcstats-server `getstats-deltacompression.js` `decompress`: the whole stats
    of a jitsi `getstats` line (a missing report is gone; `timestamp: 0` is the top one)."""
    new = copy.deepcopy(new)
    timestamp = new.pop("timestamp", None)
    for oid in list(base):
        if not new.get(oid) and oid not in new:
            del base[oid]
    for oid, report in new.items():
        if oid in base:
            if report.get("timestamp") == 0:
                report["timestamp"] = timestamp
            elif not report.get("timestamp"):
                report["timestamp"] = base[oid].get("timestamp")
            base[oid].update(report)
        else:
            if report.get("timestamp") == 0:
                report["timestamp"] = timestamp
            base[oid] = report
    return base


def as_rtcstats_dump(jitsi: bytes) -> tuple[bytes, dict[str, dict[str, str]]]:
    """A jitsi dump (connectionInfo first, absolute times) as rtcstats-server would have
    stored the same calls from rtcstats-js, and the stats id map of each connection."""
    lines = []
    for _, raw in numbered_lines(jitsi):
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue  # a truncated line
    info = lines[0][2]
    info = json.loads(info) if isinstance(info, str) else info
    meta = {
        "userAgent": info.get("userAgent"),
        "clientProtocol": "rtcstats#5.0",
        "fileFormat": 3,
        "startTime": lines[0][3],
    }
    out = [b"RTCStatsDump", json.dumps(meta).encode()]
    whole: dict[str, dict[str, Any]] = {}
    sent: dict[str, dict[str, Any]] = {}
    id_maps: dict[str, dict[str, str]] = {}
    clock = 0
    last = lines[0][3]
    for line in lines[1:]:
        method, pc, value = line[:3]
        stamp = line[3] if len(line) > 3 else None
        ts = stamp if isinstance(stamp, int) else last
        last = ts
        if method == "getstats" and pc is not None and isinstance(value, dict):
            whole[pc] = jitsi_decompression(whole.get(pc, {}), value)
            value = stats_compression(sent.get(pc, {}), whole[pc], id_maps.setdefault(pc, {}))
            sent[pc] = copy.deepcopy(whole[pc])
            method = "getStats"
        frame = [METHOD_IDS.get(method, method), pc, value, ts - clock]
        clock = ts
        out.append(json.dumps(frame, separators=(",", ":")).encode())
    out.append(json.dumps(["close", None, 1001, 5]).encode())
    return b"\n".join(out), id_maps
