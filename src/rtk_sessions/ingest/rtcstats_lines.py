"""The lines of an rtcstats dump: its bytes inflated (gzip detected by its magic bytes, with a
bound on the output), split into numbered lines, the first telling which server wrote the
dump (its family), the others decoded into `[method, connection id, value, timestamp]` lines
or found unusable. Turning lines into events is `rtcstats.py`'s part.

Three writers, three line formats: jitsi/rtcstats-server and the older fippo/rtcstats-server
store absolute times in item 4 (a line of 3 items takes the time of the line before; Jitsi's
item 5 is a sequence number), and Jitsi's server components' lines are objects wrapping such
a line; rtcstats/rtcstats (file format 3) stores the client's compressed frames, whose last
item is the time since the frame before. A line that cannot be used raises `Unusable` (the
reader skips and counts it); only data that is not a dump at all raises `DumpError`. Why:
docs/rtcstats.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import msgspec

from rtk_sessions.ingest.rtcstats_compression import STATE_VALUES, decompress_method
from rtk_sessions.ingest.rtcstats_values import EPOCH_2000_MS
from rtk_sessions.kit.gzip import InflatedTooLarge, NotGzip, gunzip_bounded

_GZIP_MAGIC = b"\x1f\x8b"
JSON_DECODER = msgspec.json.Decoder()
DUMP_FORMAT = (
    "an rtcstats dump is JSON lines, one JSON value per line: first a metadata line "
    '(["connectionInfo", null, {"userAgent": …}, timestamp_ms], an object with the '
    "client's userAgent, or the line RTCStatsDump and then such an object), then "
    "[method, connection id, value, timestamp_ms] lines"
)
# Keys of the metadata object that older rtcstats servers wrote as a dump's first line.
_HEADER_KEYS = frozenset(("userAgent", "path", "origin", "url", "fileFormat", "clientProtocol"))


class DumpError(ValueError):
    """Why the data is not a dump that can be read, for the user (400)."""


class DumpTooLarge(DumpError):
    """The dump is larger than allowed once decompressed (413)."""


class Unusable(ValueError):
    """Why one line cannot be used; the reader skips it and reports the reason."""


def inflate(data: bytes, max_bytes: int) -> bytes:
    """Inflate gzip members incrementally, never holding more than `max_bytes + 1` of output,
    so a decompression bomb costs no more memory than an honest dump."""
    if not data.startswith(_GZIP_MAGIC):
        if len(data) > max_bytes:
            raise DumpTooLarge(_too_large(max_bytes))
        return data
    try:
        return gunzip_bounded(data, max_bytes)
    except InflatedTooLarge:
        raise DumpTooLarge(_too_large(max_bytes)) from None
    except NotGzip as exc:
        if exc.truncated:
            raise DumpError("the gzip stream is truncated: upload the complete file") from None
        raise DumpError(f"the dump is not valid gzip ({exc})") from None


def _too_large(max_bytes: int) -> str:
    return f"the dump is larger than the limit of {max_bytes} bytes once decompressed"


def numbered_lines(text: bytes) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers, found lazily (garbage fails on line 1)."""
    start = 3 if text.startswith(b"\xef\xbb\xbf") else 0
    lineno = 0
    while start < len(text):
        end = text.find(b"\n", start)
        end = len(text) if end < 0 else end
        lineno += 1
        raw = text[start:end].rstrip(b"\r")
        start = end + 1
        if raw.strip():
            yield lineno, raw


class Line(NamedTuple):
    lineno: int
    method: str
    pc: str | None
    value: Any
    ts: int


JITSI = "jitsi"  # jitsi/rtcstats-server: absolute times, item 5 a sequence number
LEGACY = "legacy"  # fippo/rtcstats-server (file format 2 and older): absolute times
RTCSTATS = "rtcstats"  # rtcstats/rtcstats server (file format 3): compressed, time deltas


class FirstLine(NamedTuple):
    """What a dump's first line says: the writer's family, the client description and time
    it holds (if any), and whether it is itself a line of data to read."""

    family: str
    info: Any = None
    time: int | None = None
    is_data: bool | None = False  # None: neither, the metadata line comes next


def first_line(lineno: int, raw: bytes) -> FirstLine:
    """The family of a dump from its first line.

    Raises DumpError when that line shows the data is not a dump: not JSON on its own (a
    pretty-printed document, random bytes), or JSON that starts no known dump."""
    if raw.strip() == b"RTCStatsDump":
        return FirstLine(RTCSTATS, is_data=None)  # the metadata object follows
    value = _first_json(lineno, raw)
    if isinstance(value, dict) and value.get("fileFormat") == 3:  # the magic line left out
        return FirstLine(RTCSTATS, value, epoch_ms(value.get("startTime")))
    if isinstance(value, dict) and not _HEADER_KEYS.isdisjoint(value):
        return FirstLine(LEGACY, value, epoch_ms(value.get("time")))
    if isinstance(value, dict) and _is_envelope(value):
        return FirstLine(JITSI, is_data=True)  # a Jitsi server component's dump
    if isinstance(value, list) and len(value) >= 3 and value[0] == "connectionInfo":
        return FirstLine(JITSI, value[2], epoch_ms(value[3]) if len(value) > 3 else None)
    if isinstance(value, list) and len(value) >= 3 and isinstance(value[0], str) and value[0]:
        return FirstLine(JITSI, is_data=True)  # older Jitsi dumps start with their first call
    whole = isinstance(value, list) and len(value) > 0 and all(isinstance(v, list) for v in value)
    what = "a single JSON array of lines" if whole else json_kind(value)
    raise DumpError(f"line {lineno} is {what}, not a metadata line; {DUMP_FORMAT}")


def rtcstats_metadata(lineno: int, raw: bytes) -> tuple[Any, int | None]:
    """The metadata object that follows `RTCStatsDump`, and its `startTime`."""
    value = _first_json(lineno, raw)
    if not isinstance(value, dict):
        raise DumpError(
            f"line {lineno} is {json_kind(value)}; in an rtcstats file format 3 dump the line "
            "after 'RTCStatsDump' is the metadata object"
        )
    return value, epoch_ms(value.get("startTime"))


def _first_json(lineno: int, raw: bytes) -> Any:
    try:
        return JSON_DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        what = (
            "is cut short or starts a JSON document spread over several lines (such as "
            "pretty-printed JSON)"
            if "truncated" in str(exc)
            else "is not JSON"
        )
        raise DumpError(f"line {lineno} {what}; {DUMP_FORMAT}") from None


def _is_envelope(value: dict[str, Any]) -> bool:
    return "statsSessionId" in value and "type" in value


def unwrapped(value: Any) -> Any:
    """The `[method, connection id, value, timestamp]` line of a jitsi/rtcstats-server object
    line (`{statsSessionId, type, data, timestamp}`, written for its server components);
    other values as they are. Raises Unusable for an object line that holds no such line."""
    if not isinstance(value, dict) or not _is_envelope(value):
        return value
    kind, data, ts = value.get("type"), value.get("data"), value.get("timestamp")
    if kind == "stats-entry" and isinstance(data, str):
        data = decode_line(data.encode())
    if kind in ("stats-entry", "identity") and isinstance(data, list):
        return [*data, ts] if len(data) == 3 and ts is not None else data
    if kind == "identity":
        return ["identity", None, data, ts]
    if kind in ("keepalive", "close"):
        return [kind, None, None, ts]
    if kind == "stats-entry":
        raise Unusable(
            "a stats entry of a Jitsi server component (JVB, Jicofo, Jigasi) holds conference "
            "state, not a peer connection's"
        )
    what = repr(kind[:64]) if isinstance(kind, str) else json_kind(kind)
    raise Unusable(f"an object line of type {what}; {_SHAPE}")


def decode_line(raw: bytes) -> Any:
    try:
        return JSON_DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        if "truncated" in str(exc):
            raise Unusable("cut short (truncated JSON)") from None
        raise Unusable(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise Unusable("not valid JSON (nested too deeply)") from None


_SHAPE = "a line is [method, connection id, value, timestamp_ms]"
_FRAME = "a line is [method, connection id, value, …, milliseconds since the line before]"


def checked_line(lineno: int, value: Any, previous_ts: int | None) -> Line:
    """A line of 3 or more items; without a timestamp (3 items, or null) it takes
    `previous_ts`, the time of the last line read. Raises Unusable, saying what is wrong."""
    if not isinstance(value, list):
        raise Unusable(f"{json_kind(value)}, not an array; {_SHAPE}")
    if len(value) < 3:
        raise Unusable(f"{len(value)} items; {_SHAPE}")
    method, pc, payload = value[:3]
    if not isinstance(method, str) or not method:
        raise Unusable(f"the method (item 1) must be a name, got {json_kind(method)}")
    _check_pc(pc)
    stamp = value[3] if len(value) > 3 else None
    ts = previous_ts if stamp is None else epoch_ms(stamp)
    if ts is None and stamp is not None:
        raise Unusable("the timestamp (item 4) must be epoch milliseconds after 2000")
    if ts is None:
        raise Unusable("no timestamp (item 4), and no line before it has one")
    return Line(lineno, method, pc, payload, ts)


def frame_clock(value: Any, clock: float) -> float:
    """The time of an rtcstats-js frame (file format 3): its last item is the milliseconds
    since the frame before (the first frame's is absolute), so the clock moves by it; a frame
    of 3 items has no time and stays at the clock. Raises Unusable, the clock unmoved."""
    if not isinstance(value, list):
        raise Unusable(f"{json_kind(value)}, not an array; {_FRAME}")
    if len(value) < 3:
        raise Unusable(f"{len(value)} items; {_FRAME}")
    if len(value) == 3:
        return clock
    delta = value[-1]
    if type(delta) not in (int, float):
        raise Unusable(
            f"the last item must be the milliseconds since the line before, got {json_kind(delta)}"
        )
    return clock + float(delta)


def checked_frame(lineno: int, value: list[Any], clock: float) -> Line:
    """A frame of rtcstats-js (file format 3) at the time `clock`, its method name restored
    and a Chrome-quoted state (`'"stable"'`) unquoted. Raises Unusable, saying what is wrong."""
    method = decompress_method(value[0])
    if not isinstance(method, str) or not method:
        raise Unusable(
            f"the method (item 1) must be a name or a known method id, got {json_kind(method)}"
            + (f" {method}" if type(method) is int else "")
        )
    pc = value[1]
    _check_pc(pc)
    ts = epoch_ms(clock)
    if ts is None:
        raise Unusable(
            "the time (the first line's last item plus every later line's) is not epoch "
            "milliseconds after 2000"
        )
    payload = value[2]
    if isinstance(payload, str):
        payload = STATE_VALUES.get(method, {}).get(payload, payload)
    return Line(lineno, method, pc, payload, ts)


def _check_pc(pc: Any) -> None:
    if pc is not None and not (isinstance(pc, str) and 0 < len(pc) <= 128 and "\0" not in pc):
        raise Unusable("the connection id (item 2) must be null or a string of 1-128 characters")


def epoch_ms(value: Any) -> int | None:
    """Integer epoch ms of a JSON number between 2000 and 2^53, else None."""
    if type(value) not in (int, float) or not EPOCH_2000_MS <= value < 2**53:
        return None
    return int(value)


def json_kind(value: Any) -> str:
    """What a JSON value is, for messages: 'an object', 'null', 'a number', …"""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), "a number")
