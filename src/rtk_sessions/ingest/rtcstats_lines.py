"""The lines of an rtcstats dump: its bytes inflated (gzip detected by its magic bytes, with a
bound on the output), split into numbered lines, the first checked to be the dump's metadata
line, the others decoded into `[method, connection id, value, timestamp]` lines or found
unusable. Turning lines into events is `rtcstats.py`'s part.

A dump is read like rtcstats-server reads it: a line of 3 items takes the timestamp of the
line before it, the connection id may be null, extra items are ignored. A line that cannot be
used raises `Unusable` (the reader skips and counts it); only data that is not a dump at all
raises `DumpError`. Why: docs/rtcstats.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import msgspec

from rtk_sessions.ingest.rtcstats_values import EPOCH_2000_MS
from rtk_sessions.kit.gzip import InflatedTooLarge, NotGzip, gunzip_bounded

_GZIP_MAGIC = b"\x1f\x8b"
JSON_DECODER = msgspec.json.Decoder()
DUMP_FORMAT = (
    "an rtcstats dump is JSON lines, one JSON value per line: first a metadata line "
    '(["connectionInfo", null, {"userAgent": …}, timestamp_ms] or an object with the '
    "client's userAgent), then [method, connection id, value, timestamp_ms] lines"
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


def metadata_line(lineno: int, raw: bytes) -> tuple[Any, int | None]:
    """The client description and time (if any) of a dump's first line.

    Raises DumpError when that line shows the data is not a dump: not JSON on its own (a
    pretty-printed document, random bytes), or JSON that is not a metadata line."""
    if raw.strip() == b"RTCStatsDump":
        raise DumpError(
            f"line {lineno}: this is an rtcstats file format 3 dump ('RTCStatsDump'); only the "
            "rtcstats-server line format ([method, connection id, value, timestamp] lines) is read"
        )
    try:
        value = JSON_DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        what = (
            "is cut short or starts a JSON document spread over several lines (such as "
            "pretty-printed JSON)"
            if "truncated" in str(exc)
            else "is not JSON"
        )
        raise DumpError(f"line {lineno} {what}; {DUMP_FORMAT}") from None
    if isinstance(value, dict) and not _HEADER_KEYS.isdisjoint(value):
        return value, epoch_ms(value.get("time"))
    if isinstance(value, list) and len(value) >= 3 and value[0] == "connectionInfo":
        return value[2], epoch_ms(value[3]) if len(value) > 3 else None
    whole = isinstance(value, list) and len(value) > 0 and all(isinstance(v, list) for v in value)
    what = "a single JSON array of lines" if whole else json_kind(value)
    raise DumpError(f"line {lineno} is {what}, not a metadata line; {DUMP_FORMAT}")


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
    if pc is not None and not (isinstance(pc, str) and 0 < len(pc) <= 128 and "\0" not in pc):
        raise Unusable("the connection id (item 2) must be null or a string of 1-128 characters")
    stamp = value[3] if len(value) > 3 else None
    ts = previous_ts if stamp is None else epoch_ms(stamp)
    if ts is None and stamp is not None:
        raise Unusable("the timestamp (item 4) must be epoch milliseconds after 2000")
    if ts is None:
        raise Unusable("no timestamp (item 4), and no line before it has one")
    return Line(lineno, method, pc, payload, ts)


def epoch_ms(value: Any) -> int | None:
    """Integer epoch ms of a JSON number between 2000 and 2^53, else None."""
    if type(value) not in (int, float) or not EPOCH_2000_MS <= value < 2**53:
        return None
    return int(value)


def json_kind(value: Any) -> str:
    """What a JSON value is, for messages: 'an object', 'null', 'a number', …"""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), "a number")
