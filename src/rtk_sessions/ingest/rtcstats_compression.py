"""The compression of rtcstats-js (rtcstats file format 3, `rtcstats#4.0`/`#5.0`) undone:
method ids back to names, and getStats deltas back to whole reports.

The tables and the meaning of `statsDecompression` are ported from rtcstats/rtcstats
`packages/rtcstats-shared/compression.js` and the state names from `dump.js` `STATE_VALUES`,
at commit 406aeaedf0b0914034d25e731a451ead86a4b137 (MIT licence). The numbers are a wire
format: they must never change.

What the client does (so what is undone here): each report of a `getStats` frame lists only
the properties that changed since the previous frame of the same connection (nested objects
per key, arrays whole); a report that did not change at all is left out, so a missing report
means "unchanged"; a report that went away is sent as `null`. The newest timestamp moves to
the frame's top-level `t` and is left out of every report that shares it. Report ids are
renamed `"0"`, `"1"`, … in order of first appearance, with every `…Id` reference rewritten
the same way; the map is not sent, so the decompressed reports keep the short ids (their
references stay consistent). Property names and `type` values are numbered by the tables
below. Docs: docs/rtcstats.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "METHOD_IDS",
    "STATE_VALUES",
    "STATS_PROPERTY_IDS",
    "STATS_TYPE_IDS",
    "Frame",
    "StatsDecompressor",
    "apply_frame",
    "decompress_method",
    "decompress_stats_property",
    "decompress_stats_type",
    "stats_decompression",
]

# compression.js `methodTable`: method → id. 62 is unused (a duplicate key in the source
# made released clients send getUserMediaOnFailure as 65).
METHOD_IDS: dict[str, int | str] = {
    "getStats": "g",
    "createOffer": 2,
    "createOfferOnSuccess": 3,
    "createOfferOnFailure": 12,
    "createAnswer": 4,
    "createAnswerOnSuccess": 5,
    "createAnswerOnFailure": 13,
    "setLocalDescription": 6,
    "setLocalDescriptionOnSuccess": 7,
    "setLocalDescriptionOnFailure": 14,
    "setRemoteDescription": 8,
    "setRemoteDescriptionOnSuccess": 9,
    "setRemoteDescriptionOnFailure": 15,
    "addIceCandidate": 10,
    "addIceCandidateOnSuccess": 11,
    "addIceCandidateOnFailure": 16,
    "onicecandidate": 20,
    "onicecandidateerror": 21,
    "ontrack": 22,
    "onsignalingstatechange": 23,
    "oniceconnectionstatechange": 24,
    "onconnectionstatechange": 25,
    "onicegatheringstatechange": 26,
    "onnegotiationneeded": 27,
    "ondatachannel": 28,
    "addTrack": 30,
    "addTrackOnSuccess": 31,
    "addTransceiver": 32,
    "addTransceiverOnSuccess": 33,
    "removeTrack": 34,
    "createDataChannel": 35,
    "close": 36,
    "restartIce": 37,
    "setConfiguration": 38,
    "create": 39,
    "constraints": 40,
    "setCodecPreferences": 41,
    "setHeaderExtensionsToNegotiate": 42,
    "setParameters": 50,
    "replaceTrack": 51,
    "navigator.mediaDevices.getUserMedia": 60,
    "navigator.mediaDevices.getUserMediaOnSuccess": 61,
    "navigator.mediaDevices.getUserMediaOnFailure": 65,
    "navigator.mediaDevices.getDisplayMedia": 63,
    "navigator.mediaDevices.getDisplayMediaOnSuccess": 64,
    "navigator.mediaDevices.enumerateDevices": 66,
    "navigator.mediaDevices.ondevicechange": 67,
    "MediaStreamTrack.stop": 70,
    "MediaStreamTrack.applyConstraints": 71,
    "MediaStreamTrack.onended": 72,
    "MediaStreamTrack.onmute": 73,
    "MediaStreamTrack.onunmute": 74,
    "HTMLMediaElement.resize": 80,
}
# `methodTableDecompression`: ids read but not yet sent by released clients.
_METHOD_DECOMPRESSION_ONLY = {
    "1": "getStats",
    "68": "navigator.mediaDevices.getDisplayMediaOnFailure",
}
_METHOD_NAMES = {
    **_METHOD_DECOMPRESSION_ONLY,
    **{str(key): name for name, key in METHOD_IDS.items()},
}

# `statsTypeTable`: stats type → id.
STATS_TYPE_IDS: dict[str, int] = {
    "inbound-rtp": 1,
    "outbound-rtp": 2,
    "remote-inbound-rtp": 3,
    "remote-outbound-rtp": 4,
    "transport": 5,
    "candidate-pair": 6,
    "local-candidate": 7,
    "remote-candidate": 8,
    "data-channel": 9,
    "peer-connection": 10,
    "certificate": 11,
    "media-source": 12,
    "media-playout": 13,
    "codec": 14,
}
_STATS_TYPES = {str(key): name for name, key in STATS_TYPE_IDS.items()}

# `statsPropertyTable`: stats property → id.
STATS_PROPERTY_IDS: dict[str, int | str] = {
    "timestamp": "t",
    "payloadType": 4,
    "transportId": 5,
    "mimeType": 6,
    "clockRate": 7,
    "channels": 8,
    "sdpFmtpLine": 9,
    "ssrc": 10,
    "kind": 11,
    "codecId": 12,
    "packetsReceived": 14,
    "packetsLost": 15,
    "jitter": 16,
    "trackIdentifier": 17,
    "mid": 18,
    "remoteId": 19,
    "framesDecoded": 20,
    "keyFramesDecoded": 21,
    "framesDropped": 22,
    "frameWidth": 23,
    "frameHeight": 24,
    "framesPerSecond": 25,
    "qpSum": 26,
    "totalDecodeTime": 27,
    "totalInterFrameDelay": 28,
    "totalSquaredInterFrameDelay": 29,
    "pauseCount": 30,
    "totalPausesDuration": 31,
    "freezeCount": 32,
    "totalFreezesDuration": 33,
    "lastPacketReceivedTimestamp": 34,
    "headerBytesReceived": 35,
    "packetsDiscarded": 36,
    "fecPacketsReceived": 37,
    "fecPacketsDiscarded": 38,
    "fecBytesReceived": 39,
    "fecSsrc": 40,
    "bytesReceived": 41,
    "nackCount": 42,
    "firCount": 43,
    "pliCount": 44,
    "totalProcessingDelay": 45,
    "estimatedPlayoutTimestamp": 46,
    "jitterBufferDelay": 47,
    "jitterBufferTargetDelay": 48,
    "jitterBufferEmittedCount": 49,
    "jitterBufferMinimumDelay": 50,
    "totalSamplesReceived": 51,
    "concealedSamples": 52,
    "silentConcealedSamples": 53,
    "concealmentEvents": 54,
    "insertedSamplesForDeceleration": 55,
    "removedSamplesForAcceleration": 56,
    "audioLevel": 57,
    "totalAudioEnergy": 58,
    "totalSamplesDuration": 59,
    "framesReceived": 60,
    "decoderImplementation": 61,
    "playoutId": 62,
    "powerEfficientDecoder": 63,
    "framesAssembledFromMultiplePackets": 64,
    "totalAssemblyTime": 65,
    "contentType": 66,
    "googTimingFrameInfo": 67,
    "retransmittedPacketsReceived": 68,
    "retransmittedBytesReceived": 69,
    "rtxSsrc": 70,
    "totalCorruptionProbability": 71,
    "totalSquaredCorruptionProbability": 72,
    "corruptionMeasurements": 73,
    "localId": 74,
    "roundTripTime": 75,
    "totalRoundTripTime": 76,
    "fractionLost": 77,
    "roundTripTimeMeasurements": 78,
    "packetsSent": 79,
    "bytesSent": 80,
    "mediaSourceId": 81,
    "rid": 82,
    "encodingIndex": 83,
    "headerBytesSent": 84,
    "retransmittedPacketsSent": 85,
    "retransmittedBytesSent": 86,
    "targetBitrate": 87,
    "totalEncodedBytesTarget": 88,
    "framesSent": 89,
    "hugeFramesSent": 90,
    "framesEncoded": 91,
    "keyFramesEncoded": 92,
    "totalEncodeTime": 93,
    "totalPacketSendDelay": 94,
    "qualityLimitationReason": 95,
    "qualityLimitationDurations": 96,
    "qualityLimitationResolutionChanges": 97,
    "encoderImplementation": 98,
    "powerEfficientEncoder": 99,
    "active": 100,
    "scalabilityMode": 101,
    "remoteTimestamp": 102,
    "reportsSent": 103,
    "echoReturnLoss": 104,
    "echoReturnLossEnhancement": 105,
    "width": 106,
    "height": 107,
    "frames": 108,
    "synthesizedSamplesDuration": 109,
    "synthesizedSamplesEvents": 110,
    "totalPlayoutDelay": 111,
    "totalSamplesCount": 112,
    "dataChannelsOpened": 113,
    "dataChannelsClosed": 114,
    "label": 115,
    "protocol": 116,
    "dataChannelIdentifier": 117,
    "state": 118,
    "messagesSent": 119,
    "messagesReceived": 120,
    "iceRole": 121,
    "iceLocalUsernameFragment": 122,
    "dtlsState": 123,
    "iceState": 124,
    "selectedCandidatePairId": 125,
    "localCertificateId": 126,
    "remoteCertificateId": 127,
    "tlsVersion": 128,
    "dtlsCipher": 129,
    "dtlsRole": 130,
    "srtpCipher": 131,
    "selectedCandidatePairChanges": 132,
    "rtcpTransportStatsId": 133,
    "address": 134,
    "port": 135,
    "candidateType": 136,
    "priority": 137,
    "url": 138,
    "relayProtocol": 139,
    "foundation": 140,
    "relatedAddress": 141,
    "relatedPort": 142,
    "usernameFragment": 143,
    "tcpType": 144,
    "networkType": 145,
    "localCandidateId": 148,
    "remoteCandidateId": 149,
    "nominated": 150,
    "lastPacketSentTimestamp": 151,
    "currentRoundTripTime": 152,
    "availableOutgoingBitrate": 153,
    "availableIncomingBitrate": 154,
    "requestsReceived": 155,
    "requestsSent": 156,
    "responsesReceived": 157,
    "responsesSent": 158,
    "consentRequestsSent": 159,
    "packetsDiscardedOnSend": 160,
    "bytesDiscardedOnSend": 161,
    "fingerprint": 163,
    "fingerprintAlgorithm": 164,
    "base64Certificate": 165,
    "issuerCertificateId": 166,
}
# `statsPropertyTableDecompression`: ids read but not yet sent by released clients.
_PROPERTY_DECOMPRESSION_ONLY = {
    "167": "psnrMeasurements",
    "168": "psnrSum",
    "169": "packetsReceivedWithEct1",
    "170": "packetsReceivedWithCe",
    "171": "packetsReportedAsLost",
    "172": "packetsReportedAsLostButRecovered",
    "173": "packetsWithBleachedEct1Marking",
    "174": "packetsSentWithEct1",
    "175": "ccfbMessagesSent",
    "176": "ccfbMessagesReceived",
}
_PROPERTY_NAMES = {
    **_PROPERTY_DECOMPRESSION_ONLY,
    **{str(key): name for name, key in STATS_PROPERTY_IDS.items()},
}
_TIMESTAMP = "t"

# dump.js `STATE_VALUES`: Chrome JSON-encodes the state in these events (rtcstats-js writes
# it bare), so `'"stable"'` stands for `stable`.
_STATES = {
    "onsignalingstatechange": (
        "stable", "have-local-offer", "have-remote-offer", "have-local-pranswer",
        "have-remote-pranswer", "closed",
    ),
    "oniceconnectionstatechange": (
        "new", "checking", "connected", "completed", "failed", "disconnected", "closed",
    ),
    "onconnectionstatechange": (
        "new", "connecting", "connected", "disconnected", "failed", "closed",
    ),
    "onicegatheringstatechange": ("new", "gathering", "complete"),
}  # fmt: skip
STATE_VALUES: dict[str, dict[str, str]] = {
    method: {f'"{state}"': state for state in states} for method, states in _STATES.items()
}


def _key(value: Any) -> str | None:
    """A table key as JavaScript's property lookup sees it: numbers and strings by their text."""
    if isinstance(value, str):
        return value
    if type(value) is int:
        return str(value)
    if type(value) is float and value.is_integer():
        return str(int(value))
    return None


def decompress_method(key: Any) -> Any:
    """The method name of a compressed method key (`39`, `"g"`, `"39"`); other keys as given
    (uncompressed names, custom `:…` methods, unknown ids)."""
    text = _key(key)
    return _METHOD_NAMES.get(text, key) if text is not None else key


def decompress_stats_type(key: Any) -> Any:
    text = _key(key)
    return _STATS_TYPES.get(text, key) if text is not None else key


def decompress_stats_property(key: str) -> str:
    return _PROPERTY_NAMES.get(key, key)


_MISSING: Any = object()


@dataclass(frozen=True)
class Frame:
    """What one getStats frame did to a connection's whole stats: the reports it sent (new or
    changed, in its order), those it removed, and its top-level time `t` (None without)."""

    listed: list[str]
    removed: list[str]
    timestamp: Any


def apply_frame(whole: dict[str, Any], delta: dict[str, Any]) -> Frame:
    """Decompress one frame into `whole` in place, touching only the reports it names (so the
    cost follows the frame's size): a changed report merges into the old one, a new one is
    taken, `null` removes. A report the frame leaves out is unchanged and would, in
    compression.js `statsDecompression`, also take the frame's `t` as its timestamp; that one
    assignment is left to whoever reads it (`stats_decompression` does it for all).

    Raises ValueError, `whole` unchanged, when a report is neither an object nor null."""
    if any(r is not None and not isinstance(r, dict) for k, r in delta.items() if k != _TIMESTAMP):
        raise ValueError("a getStats report is neither an object nor null")
    timestamp = delta.get(_TIMESTAMP, _MISSING)
    listed: list[str] = []
    removed: list[str] = []
    for oid, report in delta.items():
        if oid == _TIMESTAMP:
            continue
        if report is None:  # removed; a null for an id never sent is dropped
            if whole.pop(oid, None) is not None:
                removed.append(oid)
            continue
        named: dict[str, Any] = {}
        for name, value in report.items():
            full = decompress_stats_property(name)
            named[full] = decompress_stats_type(value) if full == name == "type" else value
        old = whole.get(oid)
        if old is None:
            old = whole[oid] = named
        else:
            for name, value in named.items():
                before = old.get(name, _MISSING)
                if (before is None or isinstance(before, dict)) and not isinstance(value, list):
                    # Object.assign({}, old, new): an object merges key by key over the old
                    # one; a scalar has no keys, so the old object (or {} for null) stays.
                    merged = dict(before or {})
                    if isinstance(value, dict):
                        merged.update(value)
                    value = merged
                old[name] = value
        if timestamp is not _MISSING and "timestamp" not in named:
            old["timestamp"] = timestamp
        listed.append(oid)
    return Frame(listed, removed, None if timestamp is _MISSING else timestamp)


def stats_decompression(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The whole stats of a connection from the previous whole stats (`base`, left unchanged)
    and one compressed frame, as compression.js `statsDecompression` computes them, in
    JavaScript's key order.

    Raises ValueError when a report of the frame is not an object. Two choices where the
    JavaScript gives garbage: a `null` for an id never sent is dropped (rather than kept as a
    null report), and a nested object property given a string becomes a copy of the old
    object (the JavaScript spreads the string's characters into it)."""
    whole = {oid: dict(report) for oid, report in base.items()}
    frame = apply_frame(whole, delta)
    if _TIMESTAMP in delta:
        listed = set(frame.listed)
        for oid, report in whole.items():
            if oid not in listed:
                report["timestamp"] = delta[_TIMESTAMP]
    return {oid: whole[oid] for oid in _js_order(whole)}


def _js_order(mapping: dict[str, Any]) -> list[str]:
    """The keys in a JavaScript object's order: array indices ("0", "1", … — the renamed ids)
    ascending, then the other keys as inserted; so reports come out in the same order on
    every frame."""
    indices = [k for k in mapping if k.isdigit() and (k == "0" or k[0] != "0") and len(k) < 10]
    indices.sort(key=int)
    seen = set(indices)
    return indices + [k for k in mapping if k not in seen]


class StatsDecompressor:
    """The whole stats per connection of one dump, each frame decompressed into the whole
    stats of its connection (rtcstats-shared `readRTCStatsDump` keeps them the same way)."""

    def __init__(self) -> None:
        self._whole: dict[str, dict[str, Any]] = {}

    def decompress(self, pc: str, delta: Any) -> tuple[dict[str, Any], Frame]:
        """The connection's whole stats after this frame (the same dict every time, updated
        in place) and what the frame changed. Raises ValueError, leaving the state as it was,
        when the frame is not a stats object."""
        if not isinstance(delta, dict):
            raise ValueError("a getStats value must be an object of stats reports by id")
        whole = self._whole.setdefault(pc, {})
        return whole, apply_frame(whole, delta)
