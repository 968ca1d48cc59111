"""Read an rtcstats dump into ingest events and per-connection figures (pure: lines in).

A dump is JSON lines written by one of three servers, told apart by its first line:
jitsi/rtcstats-server (a `connectionInfo` line, or in older dumps the first call; object
lines for its server components), the older fippo/rtcstats-server (a metadata object, file
format 2) and rtcstats/rtcstats (`RTCStatsDump` then a metadata object, file format 3: the
rtcstats-js client's compressed frames with time deltas). Like those servers, the reader takes
lines of 3 items (the time of the line before), null connection ids and methods it does not
know; a line it cannot use is skipped and reported with its reason. Data that is not a dump
(no known first line, or no usable line) is refused.

`DumpReader` reads line by line, so an upload (`parse_dump`) and a live stream of the same
lines give the same events. Event ids are `rtcstats:<peer>:<sha256 of the line>` (in file
format 3 the line and its absolute time, since its own time is relative) so that uploading a
dump again changes nothing; a line that yields several events numbers them `:1`, `:2`, …
after the hash, a line that repeats an earlier one gives nothing new, and `<peer>` is `h` + 32
hex digits of the peer id's sha256 when the peer id is too long for a 128-character id. What
becomes what, and why: docs/rtcstats.md.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import msgspec

from rtk_sessions.ingest.rtcstats_compression import StatsDecompressor
from rtk_sessions.ingest.rtcstats_figures import Connection, ConnectionFigures, Hints
from rtk_sessions.ingest.rtcstats_lines import (
    JITSI,
    JSON_DECODER,
    RTCSTATS,
    DumpError,
    DumpTooLarge,
    Line,
    Unusable,
    checked_frame,
    checked_line,
    decode_line,
    first_line,
    frame_clock,
    inflate,
    json_kind,
    numbered_lines,
    rtcstats_metadata,
    unwrapped,
)
from rtk_sessions.ingest.rtcstats_values import Json

__all__ = [
    "KNOWN_METHODS",
    "MAX_DUMP_BYTES",
    "MAX_SAMPLES",
    "Dump",
    "DumpError",
    "DumpReader",
    "DumpTooLarge",
    "SkippedLine",
    "figures_event",
    "parse_dump",
]

MAX_DUMP_BYTES = 100 * 2**20
MAX_SAMPLES = 1000
MAX_SKIP_REASONS = 5
_PEER_ROOM = 49  # 128 - len("rtcstats:") - len(":") - 64 hex - len(":9999")
_STATE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A file format 3 frame leaves out the streams that did not change; each is sampled again at
# the frame's time, as a whole getStats would list it. That costs work and events a few bytes
# of frame cannot pay for, so a dump may carry at most this many plus one per 32 bytes read:
# several times what real calls need, and a crafted dump stays as cheap as a Jitsi one.
_CARRY_FREE = 50_000
# A line that repeats one of the last this many lines that gave events gives nothing again: a
# Jitsi client resends at most its last 1,000 entries after reconnecting. A repeat from further
# back gives its events again, under the same ids, which storage counts as duplicates.
_REPEAT_WINDOW = 4096
_CARRY_BYTES = 32


@dataclass(frozen=True)
class SkippedLine:
    line: int  # 1-based, blank lines counted
    reason: str


@dataclass(frozen=True)
class Dump:
    """The dump's ingest events (line order), its figures per peer connection id, and the
    lines it skipped: how many, and the first few with their reasons."""

    events: list[Json]
    figures: dict[str, ConnectionFigures]
    skipped_lines: int = 0
    skipped: tuple[SkippedLine, ...] = ()


def parse_dump(
    data: bytes, *, peer_id: str, meeting_id: str, max_bytes: int = MAX_DUMP_BYTES
) -> Dump:
    """Read a dump, plain or gzip (detected by its magic bytes), into events and figures.

    Raises DumpTooLarge beyond `max_bytes` decompressed, DumpError for data that is not a dump
    (no metadata line first, no usable line)."""
    text = inflate(data, max_bytes)
    reader = DumpReader(peer_id, meeting_id)
    for lineno, raw in numbered_lines(text):
        reader.feed(lineno, raw)
    return reader.finish()


class DumpReader:
    """A dump read line by line, for an upload (`parse_dump`) and for a live stream alike, so
    that both give the same events with the same ids.

    Feed the stored lines in order (`feed`); `take_events` hands over the events made since
    it was last called; at the end `finish_events` gives the figures event and `finish` the
    `Dump` (its `events` are those not taken yet). The reader keeps the merged stats state
    per connection and the digests of the last 4,096 lines that gave events (32 bytes each,
    to drop a line sent twice), never the lines themselves."""

    def __init__(self, peer_id: str, meeting_id: str) -> None:
        self.peer_id = peer_id
        self.meeting_id = meeting_id
        long = len(peer_id) > _PEER_ROOM
        self.key = "h" + hashlib.sha256(peer_id.encode()).hexdigest()[:32] if long else peer_id
        self.events: list[Json] = []  # made and not taken yet
        self.emitted: set[bytes] = set()  # sha256 digests of the last lines that gave events
        self.emitted_order: deque[bytes] = deque()  # the same, oldest first
        self.emitted_count = 0  # events made, taken or not
        self.last_event_ts: int | None = None  # the latest occurred_at of the events made
        self.connections: dict[str, Connection] = {}
        self.hints = Hints()
        self.requested: dict[str, str] = {}  # kind → device id the last getUserMedia asked for
        self.selected: dict[str, tuple[str | None, str | None]] = {}  # kind → (id, label)
        self.devices: dict[str, dict[str, Json]] | None = None  # enumerateDevices: kind → id → …
        self.lines = 0  # non-blank lines, the metadata line included
        self.used = 0  # lines after the metadata line that were read
        self.last_ts: int | None = None  # the time of the last line read
        self.skipped: list[SkippedLine] = []  # the first few
        self.skipped_count = 0
        self.header: tuple[bytes, Json] | None = None  # metadata waiting for a time
        self.family = JITSI  # which server wrote the dump: known after its first line
        self.has_metadata = False  # the first line (after `RTCStatsDump`) describes the client
        self.described = False  # the metadata line has been read
        self.clock: float = 0  # file format 3: the sum of the time items read so far
        self.decompressor = StatsDecompressor()  # file format 3: whole stats per connection
        self.bytes_read = 0  # of every line fed
        self.carried = 0  # file format 3: streams sampled while left out of their frame
        self.track_fields: tuple[str, ...] = _TRACK_FIELDS  # an rtcstats-js track array

    def feed(self, lineno: int, raw: bytes) -> None:
        """One stored line without its line end; `lineno` counts from 1, blank lines included.

        Raises DumpError when the first line (or, after `RTCStatsDump`, the second) shows the
        data is not a dump."""
        if not raw.strip():
            return
        self.lines += 1
        if self.lines == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        self.bytes_read += len(raw)  # blank lines and a BOM excluded, as numbered_lines does
        if self.lines == 1:
            first = first_line(lineno, raw)
            self.family = first.family
            self.has_metadata = first.is_data is not True
            if first.is_data is False:
                self._metadata(raw, first.info, first.time)
            if not first.is_data:
                return
        elif self.lines == 2 and self.family == RTCSTATS and not self.described:
            self._metadata(raw, *rtcstats_metadata(lineno, raw))
            return
        try:
            line = self._line(lineno, raw)
            bodies = self._handler(line)(self, line)
        except Unusable as exc:
            self._skip(lineno, str(exc))
            return
        self.used += 1
        self.last_ts = line.ts
        if self.header is not None:
            self._emit(self.header[0], line.ts, [self.header[1]])
            self.header = None
        if line.pc is not None:
            self._connection(line.pc).seen(line.ts)
        self._emit(raw, line.ts, bodies)

    def _line(self, lineno: int, raw: bytes) -> Line:
        value = decode_line(raw)
        if self.family != RTCSTATS:
            return checked_line(lineno, unwrapped(value), self.last_ts)
        self.clock = frame_clock(value, self.clock)
        return checked_frame(lineno, value, self.clock)

    @staticmethod
    def _handler(line: Line) -> Handler:
        handler = _HANDLERS.get(line.method)
        if handler is not None:
            return handler
        if line.method.startswith(":") or line.pc is None:
            return DumpReader.on_custom
        return _ignore

    def take_events(self) -> list[Json]:
        """The events made since the last call, in line order."""
        events, self.events = self.events, []
        return events

    def finish_events(self) -> list[Json]:
        """The figures `peer.metadata` event of the dump read so far, at the time of its last
        event; [] when no connection was seen or no event was made."""
        if not self.connections or self.last_event_ts is None:
            return []
        figures = {pc: c.figures() for pc, c in self.connections.items()}
        return [figures_event(self.peer_id, self.meeting_id, figures, self.last_event_ts)]

    def finish(self) -> Dump:
        """The dump read: its events not taken yet, figures and skipped lines.

        Raises DumpError when no line could be used."""
        if self.lines == 0:
            raise DumpError("the dump is empty: it holds no lines")
        if self.used == 0:
            reasons = "".join(f"; line {s.line}: {s.reason}" for s in self.skipped)
            where = " after its metadata line" if self.has_metadata else ""
            raise DumpError(
                f"the dump has no usable line{where} ({self.skipped_count} skipped{reasons})"
            )
        figures = {pc: c.figures() for pc, c in self.connections.items()}
        return Dump(self.take_events(), figures, self.skipped_count, tuple(self.skipped))

    def _skip(self, lineno: int, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_SKIP_REASONS:
            self.skipped.append(SkippedLine(lineno, reason))

    def _emit(self, raw: bytes, ts: int, bodies: list[Json]) -> None:
        if not bodies:
            return
        if self.family == RTCSTATS:  # a frame's time is relative: the same bytes can recur
            raw = b"%b\n%d" % (raw, ts)
        digest = hashlib.sha256(raw).digest()
        if digest in self.emitted:
            return
        self.emitted.add(digest)
        self.emitted_order.append(digest)
        if len(self.emitted_order) > _REPEAT_WINDOW:
            self.emitted.discard(self.emitted_order.popleft())
        base = f"rtcstats:{self.key}:{digest.hex()}"
        ids = [base] if len(bodies) == 1 else [f"{base}:{i}" for i in range(1, len(bodies) + 1)]
        common = {"meeting_id": self.meeting_id, "peer_id": self.peer_id, "occurred_at": ts}
        self.events.extend({"id": i, **body, **common} for i, body in zip(ids, bodies, strict=True))
        self.emitted_count += len(bodies)
        self.last_event_ts = ts if self.last_event_ts is None else max(self.last_event_ts, ts)

    def _connection(self, pc: str) -> Connection:
        if pc not in self.connections:
            self.connections[pc] = Connection(pc, self.hints)
        return self.connections[pc]

    def _metadata(self, raw: bytes, info: Any, time: int | None) -> None:
        """The client's description, at its time or else the next line's."""
        self.described = True
        self.last_ts = time
        if isinstance(info, dict) and info.get("clientProtocol") == "rtcstats#4.0":
            self.track_fields = _TRACK_FIELDS_4  # the label came with rtcstats#5.0
        body = _client_metadata(info)
        if body is None:
            return
        if time is not None:
            self._emit(raw, time, [body])
        else:
            self.header = (raw, body)

    def on_connection_info(self, line: Line) -> list[Json]:
        body = _client_metadata(line.value)
        return [body] if body else []

    def on_constraints(self, line: Line) -> list[Json]:
        optional = line.value.get("optional") if isinstance(line.value, dict) else None
        if line.pc is None or not isinstance(optional, list):
            return []
        for item in optional:
            if isinstance(item, dict) and isinstance(item.get("rtcStatsSFUP2P"), bool):
                self._connection(line.pc).is_p2p = item["rtcStatsSFUP2P"]
        return []

    def on_state(self, prefix: str, line: Line) -> list[Json]:
        state = line.value
        if not isinstance(state, str) or not _STATE.fullmatch(state) or line.pc is None:
            raise Unusable(
                "a state change needs a connection id and a state name such as 'connected' "
                f"as its value, got {json_kind(state)}"
            )
        if prefix == "connection":
            self._connection(line.pc).connection_state(state, line.ts)
        return [_event(f"{prefix}_{state}", line.pc)]

    def on_stats(self, line: Line) -> list[Json]:
        if line.pc is None:
            raise Unusable("getstats needs a connection id")
        connection = self.connections.get(line.pc) or Connection(line.pc, self.hints)
        try:
            if self.family == RTCSTATS:
                whole, frame = self.decompressor.decompress(line.pc, line.value)
                carry = _CARRY_FREE + self.bytes_read // _CARRY_BYTES - self.carried
                samples, pairs, carried = connection.apply_frame(whole, frame, line.ts, carry)
                self.carried += carried
            else:
                samples, pairs = connection.apply_stats(line.value, line.ts)
        except ValueError as exc:
            raise Unusable(str(exc)) from None
        self.connections.setdefault(line.pc, connection)
        bodies: list[Json] = [{"type": "peer.metadata", "candidate_pair": p} for p in pairs]
        for start in range(0, len(samples), MAX_SAMPLES):
            bodies.append({"type": "peer.stats", "samples": samples[start : start + MAX_SAMPLES]})
        return bodies

    def on_media_request(self, line: Line) -> list[Json]:
        """Remember which device a getUserMedia call asked for, per kind."""
        constraints = line.value if isinstance(line.value, dict) else {}
        for kind in ("audio", "video"):
            device_id = _requested_device(constraints.get(kind))
            if device_id is not None:
                self.requested[kind] = device_id
            elif constraints.get(kind):
                self.requested.pop(kind, None)
        return []

    def on_media_success(self, line: Line) -> list[Json]:
        """A selected device per new track, when it differs from the last selection."""
        bodies = []
        for track in _tracks(line.value, self.track_fields):
            kind, label = track.get("kind"), track.get("label")
            if kind not in ("audio", "video"):
                continue
            device_id = self.requested.get(kind)
            if self.selected.get(kind) == (device_id, label):
                continue
            self.selected[kind] = (device_id, label)
            device = {"kind": f"{kind}input", "label": label, "device_id": device_id}
            device = {k: v for k, v in device.items() if isinstance(v, str)}
            bodies.append({"type": "peer.metadata", "selected_device": device})
        return bodies

    def on_display_success(self, line: Line) -> list[Json]:
        self.hints.display_tracks.update(
            t["id"] for t in _tracks(line.value, self.track_fields) if isinstance(t.get("id"), str)
        )
        return []

    def on_devices(self, line: Line) -> list[Json]:
        """One `devices_update` per kind whose devices changed since the last enumeration."""
        now: dict[str, dict[str, Json]] = {"audio": {}, "video": {}, "speaker": {}}
        for d in line.value if isinstance(line.value, list) else []:
            kind = _DEVICE_KINDS.get(str(d.get("kind"))) if isinstance(d, dict) else None
            if kind is not None and isinstance(d.get("deviceId"), str):
                device = {"device_id": d["deviceId"], "kind": d["kind"]}
                device.update({"label": d["label"]} if isinstance(d.get("label"), str) else {})
                now[kind][d["deviceId"]] = device
        before = self.devices or {kind: {} for kind in now}
        self.devices = now
        bodies = []
        for kind, devices in now.items():
            added = [d for i, d in devices.items() if before[kind].get(i) != d]
            removed = [d for i, d in before[kind].items() if i not in devices]
            if added or removed:
                update = {"kind": kind, "added": added, "removed": removed}
                bodies.append({"type": "peer.metadata", "devices_update": update})
        return bodies

    def on_video_type(self, line: Line) -> list[Json]:
        value = line.value if isinstance(line.value, dict) else {}
        ssrc, video_type = value.get("ssrc"), value.get("videoType")
        if type(ssrc) is int and video_type == "desktop":
            self.hints.desktop_ssrcs.add(ssrc)
        elif type(ssrc) is int:
            self.hints.desktop_ssrcs.discard(ssrc)
        return []

    def on_custom(self, line: Line) -> list[Json]:
        """An application's own event (rtcstats-js `trace(':name', …)`) or another method of
        no connection that the reader does not know: a `peer.event` of that name."""
        if len(line.method) > 128:
            raise Unusable("an unknown method name longer than 128 characters")
        body = _event(line.method, line.pc)
        value = line.value
        if value is None or isinstance(value, bool | int | float) or _short_text(value, 1024):
            body["metadata"]["value"] = value
        return [body]

    def on_toggle(self, name: str, line: Line) -> list[Json]:
        """Jitsi's `audioMutedChanged` etc.: `true`/`{"muted": true}` means off."""
        muted = line.value.get("muted") if isinstance(line.value, dict) else line.value
        if not isinstance(muted, bool):
            return []
        return [_event(f"{name}_{'off' if muted else 'on'}", line.pc)]


def figures_event(
    peer_id: str, meeting_id: str, figures: dict[str, Any], at: int
) -> dict[str, Any]:
    """The per-connection figures of the dump, kept as an extra field of a `peer.metadata`
    event so that the report (a function of stored events) can show them. The id hashes the
    peer and the figures, so re-uploading the dump, plain or gzipped, adds nothing, and a
    live stream of the same lines gives the same event."""
    connections = {
        pc: asdict(f) if is_dataclass(f) and not isinstance(f, type) else f
        for pc, f in figures.items()
    }
    digest = hashlib.sha256(
        peer_id.encode() + b"\n" + msgspec.json.encode(connections, order="sorted")
    ).hexdigest()
    return {
        "id": f"rtcstats:figures:{digest}",
        "type": "peer.metadata",
        "meeting_id": meeting_id,
        "occurred_at": at,
        "peer_id": peer_id,
        "rtcstats_connections": connections,
    }


def _event(name: str, pc: str | None) -> Json:
    return {"type": "peer.event", "name": name, "metadata": {"pc_id": pc}}


_CLIENT_FIELDS = (("user_agent", "userAgent"), ("sdk_version", "clientProtocol"),
                  ("sdk_type", "clientType"))  # fmt: skip


def _client_metadata(info: Any) -> Json | None:
    """`peer.metadata` from the client's header: its user agent and, as the sdk, rtcstats."""
    if isinstance(info, str):
        try:
            info = JSON_DECODER.decode(info)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return None
    if not isinstance(info, dict):
        return None
    body = {k: info[key] for k, key in _CLIENT_FIELDS if _short_text(info.get(key))}
    if "sdk_version" in body:
        body["sdk_name"] = "rtcstats"
    return {"type": "peer.metadata", **body} if body else None


def _short_text(value: Any, limit: int = 2048) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and "\x00" not in value


_TRACK_FIELDS = ("kind", "id", "label")  # rtcstats-js: [kind, id, label, stream ids…]
_TRACK_FIELDS_4 = ("kind", "id")  # before protocol rtcstats#5.0: [kind, id, stream ids…]


def _requested_device(constraint: Any) -> str | None:
    """The device id a getUserMedia constraint names (`deviceId` as a string, `exact` or
    `ideal`, or legacy `optional: [{sourceId}]`)."""
    if not isinstance(constraint, dict):
        return None
    device = constraint.get("deviceId")
    if isinstance(device, dict):
        device = device.get("exact", device.get("ideal"))
    if isinstance(device, str):
        return device
    for item in constraint.get("optional") or []:
        if isinstance(item, dict) and isinstance(item.get("sourceId"), str):
            return str(item["sourceId"])
    return None


def _tracks(value: Any, fields: tuple[str, ...] = _TRACK_FIELDS) -> list[Json]:
    """Tracks of a getUserMedia/getDisplayMedia success: `{id, tracks: [...]}` or a list, each
    track an object or, from rtcstats-js, an array of `fields` and stream ids."""
    tracks = value.get("tracks") if isinstance(value, dict) else value
    if not isinstance(tracks, list):
        return []
    found = []
    for track in tracks:
        if isinstance(track, list) and len(track) >= 2:
            track = dict(zip(fields, track[: len(fields)], strict=False))
        if isinstance(track, dict):
            found.append(track)
    return found


_DEVICE_KINDS = {"audioinput": "audio", "videoinput": "video", "audiooutput": "speaker"}

Handler = Callable[[DumpReader, Line], list[Json]]


def _ignore(reader: DumpReader, line: Line) -> list[Json]:
    return []


def _outcomes(*methods: str) -> tuple[str, ...]:
    return tuple(m + suffix for m in methods for suffix in ("", "OnSuccess", "OnFailure"))


_GET_USER_MEDIA = (
    "getUserMedia", "webkitGetUserMedia", "mozGetUserMedia", "navigator.getUserMedia",
    "navigator.mediaDevices.getUserMedia",
)  # fmt: skip
_IGNORED = (
    # written by the server or by Jitsi: identity, location, conference events
    "identity", "location", "conferenceStartTimestamp", "dominantSpeaker",
    "dominantSpeakerChanged", "e2eRtt", "facialExpression", "faceLandmarks", "logs",
    "codecChanged", "cpuRestricted", "remoteSourceInterrupted", "remoteSourceSuspended",
    "stropheDisconnected", "stropheReconnected", "strophe.error", "keepalive", "publicIP",
    # the RTCPeerConnection and media APIs and their events
    "create", "close", "createDataChannel", "ondatachannel", "setConfiguration", "restartIce",
    "addStream", "removeStream", "addTrack", "removeTrack", "addTransceiver", "onaddstream",
    "onremovestream", "ontrack", "onremovetrack", "onicecandidate", "onicecandidateerror",
    "onicegatheringstatechange", "onsignalingstatechange", "onnegotiationneeded",
    "ondtlserror", "ondtlsstatechange", "navigator.mediaDevices.getDisplayMedia",
    "navigator.mediaDevices.getDisplayMediaOnFailure", "navigator.mediaDevices.ondevicechange",
    "MediaStreamTrack.enabled", "MediaStreamTrack.contentHint", "MediaStreamTrack.onended",
    "MediaStreamTrack.stop", "MediaStreamTrack.applyConstraints", "MediaStreamTrack.onmute",
    "MediaStreamTrack.onunmute", "HTMLMediaElement.resize", "setParameters", "replaceTrack",
    "setCodecPreferences", "setHeaderExtensionsToNegotiate", "addTrackOnSuccess",
    "addTransceiverOnSuccess", "websocket",
    *_outcomes("createOffer", "createAnswer", "setLocalDescription", "setRemoteDescription"),
    *_outcomes("addIceCandidate"), *(m + "OnFailure" for m in _GET_USER_MEDIA),
)  # fmt: skip
_HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(_IGNORED, _ignore),
    "connectionInfo": DumpReader.on_connection_info,
    "constraints": DumpReader.on_constraints,
    "oniceconnectionstatechange": lambda r, line: r.on_state("ice", line),
    "onconnectionstatechange": lambda r, line: r.on_state("connection", line),
    "getstats": DumpReader.on_stats,
    "getStats": DumpReader.on_stats,
    **dict.fromkeys(_GET_USER_MEDIA, DumpReader.on_media_request),
    **dict.fromkeys((m + "OnSuccess" for m in _GET_USER_MEDIA), DumpReader.on_media_success),
    "navigator.mediaDevices.getDisplayMediaOnSuccess": DumpReader.on_display_success,
    "navigator.mediaDevices.enumerateDevices": DumpReader.on_devices,
    "setVideoType": DumpReader.on_video_type,
    "audioMutedChanged": lambda r, line: r.on_toggle("audio", line),
    "videoMutedChanged": lambda r, line: r.on_toggle("video", line),
    "screenshareToggled": lambda r, line: r.on_toggle("screenshare", line),
    "jvbIceRestarted": lambda r, line: [_event("ice_restart", line.pc)],
}
KNOWN_METHODS = frozenset(_HANDLERS)
