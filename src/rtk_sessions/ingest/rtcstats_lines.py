"""The lines of an rtcstats dump: its bytes inflated (gzip detected by its magic bytes, with a
bound on the output), split into numbered lines, decoded as JSON and checked for the
`[method, peer_connection_id, value, timestamp_ms]` shape. Turning lines into events is
`rtcstats.py`'s part.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import msgspec

from rtk_sessions.ingest.rtcstats_values import EPOCH_2000_MS
from rtk_sessions.kit.gzip import InflatedTooLarge, NotGzip, gunzip_bounded

_GZIP_MAGIC = b"\x1f\x8b"
JSON_DECODER = msgspec.json.Decoder()


class DumpError(ValueError):
    """Why a dump cannot be read, for the user (400): the line and what is wrong with it."""


class DumpTooLarge(DumpError):
    """The dump is larger than allowed once decompressed (413)."""


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


def decode_line(lineno: int, raw: bytes) -> Any:
    try:
        return JSON_DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        if "truncated" in str(exc):
            raise DumpError(f"line {lineno} is cut short (truncated JSON)") from None
        raise DumpError(f"line {lineno} is not valid JSON ({exc})") from None
    except RecursionError:
        raise DumpError(f"line {lineno} is not valid JSON (nested too deeply)") from None


_SHAPE = "a JSON array [method, peer_connection_id, value, timestamp_ms]"


def checked_line(lineno: int, value: Any) -> Line:
    """Check a line's shape; the message says what is wrong and how a line should look."""
    where = f"line {lineno}"
    if not isinstance(value, list):
        raise DumpError(f"{where} is {json_kind(value)}, not {_SHAPE}")
    if len(value) not in (4, 5):
        raise DumpError(f"{where} has {len(value)} items; expected {_SHAPE}")
    method, pc, payload, ts = value[:4]
    if not isinstance(method, str) or not method:
        raise DumpError(f"{where}: the method (item 1) must be a name, got {json_kind(method)}")
    if pc is not None and not (isinstance(pc, str) and 0 < len(pc) <= 128 and "\0" not in pc):
        raise DumpError(f"{where}: the peer connection id (item 2) must be a short string or null")
    ms = epoch_ms(ts)
    if ms is None:
        raise DumpError(
            f"{where}: the timestamp (item 4) must be epoch milliseconds after 2000, got {ts!r}"
        )
    if len(value) == 5 and type(value[4]) not in (int, float):
        raise DumpError(f"{where}: item 5 (a sequence number) must be a number")
    return Line(lineno, method, pc, payload, ms)


def epoch_ms(value: Any) -> int | None:
    """Integer epoch ms of a JSON number between 2000 and 2^53, else None."""
    if type(value) not in (int, float) or not EPOCH_2000_MS <= value < 2**53:
        return None
    return int(value)


def json_kind(value: Any) -> str:
    """What a JSON value is, for messages: 'an object', 'null', 'a number', …"""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), "a number")
