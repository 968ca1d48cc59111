"""getstats objects read into the fields of ingest samples and candidate pairs: which object
is a local rtp stream, the `peer.stats` sample fields (docs/events.md) copied from it, the
selected ICE candidate pair and its `candidate_pair` fields (`peer.metadata`). Firefox,
Safari and legacy Chrome (`ssrc` objects, goog* strings) are read into the one sample shape.
Why: docs/rtcstats.md.
"""

from __future__ import annotations

import re
from typing import Any

from rtk_sessions.ingest.rtcstats_values import (
    EPOCH_2000_MS,
    Json,
    as_number,
    by_id,
    is_number,
    is_text,
)

_RTP = ("inbound-rtp", "outbound-rtp")
_PAIRS = ("candidate-pair",)

# stats fields copied into samples under their snake_case names; a `track` object stands in
# where the rtp object lacks a field (Chrome's jitter buffer and frame size of video)
_OUTBOUND = ("packetsSent", "bytesSent", "framesEncoded", "keyFramesEncoded",
             "qualityLimitationResolutionChanges")  # fmt: skip
_INBOUND = ("packetsReceived", "bytesReceived", "packetsLost", "jitter", "jitterBufferDelay",
            "jitterBufferEmittedCount", "concealmentEvents", "framesDecoded", "framesDropped",
            "keyFramesDecoded")  # fmt: skip
_BOTH = ("firCount", "pliCount", "nackCount", "framesPerSecond", "frameWidth", "frameHeight")
_REMOTE = ("packetsLost", "jitter", "roundTripTime")
_LIMITS = ("cpu", "bandwidth", "none", "other")


def copy_rtp_fields(sample: Json, rtp: Json, remote: Json | None, track: Json | None) -> None:
    """The rtp stream's counters (and, sending, its remote's loss and limits) into a sample."""
    out = rtp["type"] == "outbound-rtp"
    _copy(sample, rtp, track, _OUTBOUND if out else _INBOUND)
    _copy(sample, rtp, track, _BOTH)
    if out:
        _copy(sample, remote or {}, None, _REMOTE)
        _limits(sample, rtp)
    elif "frames_per_second" not in sample and is_number(rtp.get("framerateMean")):
        sample["frames_per_second"] = rtp["framerateMean"]  # Firefox


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _copy(sample: Json, obj: Json, track: Json | None, names: tuple[str, ...]) -> None:
    for key in names:
        value = obj.get(key)
        if value is None and track is not None:
            value = track.get(key)
        if key == "packetsLost" and is_number(value, negative=True):
            value = max(0, value)  # more duplicates than losses: nothing was lost
        if is_number(value):
            sample[_snake(key)] = value


def _limits(sample: Json, rtp: Json) -> None:
    reason = rtp.get("qualityLimitationReason")
    if reason in _LIMITS:
        sample["quality_limitation_reason"] = reason
    durations = rtp.get("qualityLimitationDurations")
    if isinstance(durations, dict):
        picked = {k: durations[k] for k in _LIMITS if is_number(durations.get(k))}
        if picked:
            sample["quality_limitation_durations"] = picked


def rtp_view(oid: str, stats: dict[str, Json]) -> tuple[Json, Json | None] | None:
    """A local rtp stream as (standard inbound/outbound-rtp object, its remote-inbound-rtp);
    None for anything else. Legacy Chrome `ssrc` objects are translated."""
    obj = stats[oid]
    kind = obj.get("type")
    if kind == "ssrc":
        return _legacy_rtp(oid, obj)
    if kind not in _RTP or obj.get("isRemote") is True:
        return None
    if kind == "inbound-rtp":
        return obj, None
    remote = by_id(stats, obj.get("remoteId"))
    return obj, remote


# legacy Chrome (goog) names → standard ones, with a scale (ms → s)
_LEGACY = (
    ("packetsSent", "packetsSent", 1), ("bytesSent", "bytesSent", 1),
    ("packetsReceived", "packetsReceived", 1), ("bytesReceived", "bytesReceived", 1),
    ("packetsLost", "packetsLost", 1), ("framesEncoded", "framesEncoded", 1),
    ("framesDecoded", "framesDecoded", 1), ("googJitterReceived", "jitter", 1e-3),
    ("googFrameWidthSent", "frameWidth", 1), ("googFrameHeightSent", "frameHeight", 1),
    ("googFrameWidthReceived", "frameWidth", 1), ("googFrameHeightReceived", "frameHeight", 1),
    ("googFrameRateSent", "framesPerSecond", 1), ("googFrameRateOutput", "framesPerSecond", 1),
    ("googFirsReceived", "firCount", 1), ("googPlisReceived", "pliCount", 1),
    ("googNacksReceived", "nackCount", 1), ("googFirsSent", "firCount", 1),
    ("googPlisSent", "pliCount", 1), ("googNacksSent", "nackCount", 1),
)  # fmt: skip


def _legacy_rtp(oid: str, obj: Json) -> tuple[Json, Json | None] | None:
    if not oid.endswith(("_send", "_recv")):
        return None
    out = oid.endswith("_send")
    rtp: Json = {"type": "outbound-rtp" if out else "inbound-rtp", "kind": obj.get("mediaType")}
    rtp["timestamp"] = obj.get("timestamp")
    ssrc = as_number(obj.get("ssrc"))
    rtp["ssrc"] = int(ssrc) if ssrc is not None and ssrc.is_integer() else None
    for key, std, scale in _LEGACY:
        value = as_number(obj.get(key))
        if value is not None:
            rtp[std] = value * scale
    if obj.get("googCpuLimitedResolution") == "true":
        rtp["qualityLimitationReason"] = "cpu"
    elif obj.get("googBandwidthLimitedResolution") == "true":
        rtp["qualityLimitationReason"] = "bandwidth"
    if not out:
        return rtp, None
    rtt = as_number(obj.get("googRtt"))
    remote = {"packetsLost": rtp.pop("packetsLost", None), "jitter": rtp.pop("jitter", None)}
    remote["roundTripTime"] = None if rtt is None else rtt / 1000
    return rtp, remote


def selected_pair(stats: dict[str, Json]) -> str | None:
    """The transport's selected pair; else one flagged `selected` (Firefox); else a nominated,
    succeeded one. Several: the one that moved the most bytes."""
    ids = [t.get("selectedCandidatePairId") for t in stats.values() if t.get("type") == "transport"]
    pairs = [p for p in ids if isinstance(p, str) and _is_pair(stats.get(p))]
    if not pairs:
        pairs = [k for k, o in stats.items() if _is_pair(o) and o.get("selected") is True]
    if not pairs:
        pairs = [
            k for k, o in stats.items()
            if _is_pair(o) and o.get("nominated") is True and o.get("state") == "succeeded"
        ]  # fmt: skip
    return max(pairs, key=lambda p: _bytes(stats[p]), default=None)


def _is_pair(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("type") in _PAIRS


def _bytes(pair: Json) -> float:
    return sum(as_number(pair.get(k)) or 0.0 for k in ("bytesSent", "bytesReceived"))


_PAIR_NUMBERS = (
    "currentRoundTripTime", "totalRoundTripTime", "bytesSent", "bytesReceived", "packetsSent",
    "packetsReceived", "availableOutgoingBitrate", "availableIncomingBitrate",
    "bytesDiscardedOnSend", "packetsDiscardedOnSend",
)  # fmt: skip
_EPOCH_NUMBERS = ("lastPacketSentTimestamp", "lastPacketReceivedTimestamp")
_CANDIDATE = ("candidateType", "address", "ip", "port", "protocol", "networkType",
              "relatedAddress", "relatedPort", "url")  # fmt: skip
_CANDIDATE_NAMES = {"candidateType": "type", "ip": "address"}  # `ip`: Chrome before `address`


def pair_fields(stats: dict[str, Json], pair_id: str) -> Json:
    """The ingest `candidate_pair` fields (docs/events.md, peer.metadata) of a candidate pair."""
    pair = stats[pair_id]
    out: Json = {}
    for side in ("local", "remote"):
        cid = pair.get(f"{side}CandidateId")
        if is_text(cid):
            out[f"{side}_candidate_id"] = cid
        candidate = by_id(stats, cid) or {}
        for key in _CANDIDATE:
            name = f"{side}_candidate_{_CANDIDATE_NAMES.get(key) or _snake(key)}"
            value = candidate.get(key)
            if name not in out and (is_text(value) or is_number(value)):
                out[name] = value
    if isinstance(pair.get("nominated"), bool):
        out["nominated"] = pair["nominated"]
    out.update((_snake(k), pair[k]) for k in _PAIR_NUMBERS if is_number(pair.get(k)))
    out.update((_snake(k), pair[k]) for k in _EPOCH_NUMBERS
               if is_number(pair.get(k)) and pair[k] >= EPOCH_2000_MS)  # fmt: skip
    return out
