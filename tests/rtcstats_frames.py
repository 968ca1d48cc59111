"""What rtcstats-js 2.x sends over its socket, built from a Jitsi-format test dump: every line
becomes a frame `[compressed method, pc, value, …, time delta]`, and getStats values are
compressed as rtcstats-shared `statsCompression` does (ported from rtcstats/rtcstats
packages/rtcstats-shared/compression.js at commit 406aeae, MIT licence, in
tests/data/rtcstats/rtcstats-com/LICENSE). The Jitsi dump's own stats are first made whole
again (jitsi/rtcstats delta compression: `timestamp: 0` means the top-level one, a missing
report means removed, fields not sent are unchanged)."""

from __future__ import annotations

import copy
import json
from typing import Any

from rtk_sessions.ingest.rtcstats_compression import (
    METHOD_IDS,
    STATS_PROPERTY_IDS,
    STATS_TYPE_IDS,
)


def jitsi_whole(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """Whole stats after one jitsi-compressed getstats value."""
    top = delta.get("timestamp")
    whole: dict[str, Any] = {}
    for rid, report in delta.items():
        if not isinstance(report, dict):
            continue
        merged = {**base.get(rid, {}), **report, "id": rid}
        if merged.get("timestamp") == 0:
            merged["timestamp"] = top
        whole[rid] = merged
    return whole


def stats_compression(
    base: dict[str, Any], new: dict[str, Any], id_map: dict[str, str]
) -> dict[str, Any]:
    """compression.js `statsCompression`, step for step."""
    delta = copy.deepcopy(new)
    removed = [rid for rid in base if rid in id_map and rid not in delta]
    for rid in list(delta):
        report = delta[rid]
        report.pop("id", None)
        if rid not in base:
            continue
        for name in list(report):
            value = report[name]
            if value == base[rid].get(name, object()) and not isinstance(value, (list, dict)):
                del report[name]
            elif isinstance(value, list):
                if json.dumps(value) == json.dumps(base[rid].get(name)):
                    del report[name]
            elif isinstance(value, dict):
                old = base[rid].get(name)
                for key in list(value):
                    if isinstance(old, dict) and old.get(key, object()) == value[key]:
                        del value[key]
                if not value:
                    del report[name]
            if not report:
                del delta[rid]
                break
    timestamp = max((r.get("timestamp", float("-inf")) for r in delta.values()), default=None)
    for rid in list(delta):
        if delta[rid].get("timestamp") == timestamp:
            del delta[rid]["timestamp"]
            if not delta[rid]:
                del delta[rid]
    for rid in list(delta):  # removeCertificateStats, removeObsoleteProperties
        if delta[rid].get("type") == "certificate":
            del delta[rid]
            continue
        if delta[rid].get("type") == "transport":
            delta[rid].pop("localCertificateId", None)
            delta[rid].pop("remoteCertificateId", None)
        for name in ("isRemote", "ip", "mediaType", "writable"):
            delta[rid].pop(name, None)
    for rid in delta:
        id_map.setdefault(rid, str(len(id_map)))
    renamed: dict[str, Any] = {}
    for rid, report in delta.items():
        for name in list(report):
            if name.endswith("Id"):
                report[name] = id_map.get(report[name])
        renamed[id_map[rid]] = report
    compressed: dict[str, Any] = {}
    for rid, report in renamed.items():
        out = {}
        for name, value in report.items():
            key = STATS_PROPERTY_IDS.get(name)
            if key is None and name == "type":
                value = STATS_TYPE_IDS.get(value, value)
            out[str(key) if key is not None else name] = value
        compressed[rid] = out
    if timestamp is not None and timestamp != float("-inf"):
        compressed["t"] = timestamp
    for rid in removed:
        compressed[id_map.get(rid, rid)] = None
    return compressed


def rtcstats_com_frames(lines: list[list[Any]]) -> list[str]:
    """The frames rtcstats-js would send for these `[method, pc, value, ts]` lines."""
    frames, last = [], None
    whole: dict[str, dict[str, Any]] = {}  # per pc, the client's last whole stats
    sent: dict[str, dict[str, Any]] = {}  # per pc, what the server last saw
    id_maps: dict[str, dict[str, str]] = {}
    for method, pc, value, ts in (line[:4] for line in lines):
        if method == "getstats":
            now = jitsi_whole(whole.get(pc, {}), value)
            whole[pc] = now
            value = stats_compression(sent.get(pc, {}), now, id_maps.setdefault(pc, {}))
            sent[pc] = now
            method = "getStats"
        delta = ts if last is None else ts - last
        last = ts
        frames.append(json.dumps([METHOD_IDS.get(method, method), pc, value, delta]))
    return frames
