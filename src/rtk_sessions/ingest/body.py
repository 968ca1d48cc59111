"""Decode an ingest request body into a list of raw events (pure: no I/O, no framework).

Accepted media types: `application/json` (a JSON array of events, or `{"events": [...]}`;
also assumed when Content-Type is missing) and `application/x-ndjson` (aliases
`application/ndjson`, `application/jsonl`: one JSON value per line, blank lines ignored).
Content-Encoding may be absent, `identity` or `gzip`. Gzip is inflated incrementally with a
hard output cap, so a decompression bomb never allocates more than `MAX_BATCH_BYTES + 1`
bytes of output before it is refused with 413.

Errors: 415 `UnsupportedMedia` (type or encoding), 413 `PayloadTooLarge` (bytes or event
count), 400 `BadRequest` (gzip, UTF-8, JSON or shape). An NDJSON line that is not JSON becomes
a `BadLine` in its place (index among non-blank lines), which validation reports beside the
batch's invalid events: `events[3]: line 4: not valid JSON ...`.
"""

from __future__ import annotations

from typing import Any

from rtk_sessions.ingest.schemas import MAX_BATCH_BYTES, MAX_BATCH_EVENTS
from rtk_sessions.kit import jsontext
from rtk_sessions.kit.errors import BadRequest, PayloadTooLarge, UnsupportedMedia
from rtk_sessions.kit.gzip import InflatedTooLarge, NotGzip, TooManyMembers, gunzip_bounded

JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
GZIP_CODINGS = ("gzip", "x-gzip")
_BOM = b"\xef\xbb\xbf"
_SHAPES = 'a JSON array of events, or an object {"events": [...]}'


def decode_body(body: bytes, content_type: str | None, content_encoding: str | None) -> list[Any]:
    """The batch's events as decoded JSON values (not yet validated), in order."""
    ndjson = _is_ndjson(content_type)
    gzipped = _is_gzip(content_encoding)
    if len(body) > MAX_BATCH_BYTES:
        raise PayloadTooLarge(_too_many_bytes("request body"))
    data = _gunzip(body) if gzipped else body
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    events = _parse_ndjson(data) if ndjson else _parse_json(data)
    _check_count(len(events))
    return events


def _is_ndjson(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("", *JSON_TYPES):
        return False
    if media in NDJSON_TYPES:
        return True
    raise UnsupportedMedia(
        f"unsupported Content-Type {media!r}; send application/json ({_SHAPES}) or "
        f"application/x-ndjson (one JSON event per line; application/ndjson and "
        f"application/jsonl are accepted too)"
    )


def _is_gzip(content_encoding: str | None) -> bool:
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c not in ("", "identity")]
    if not codings:
        return False
    if len(codings) == 1 and codings[0] in GZIP_CODINGS:
        return True
    raise UnsupportedMedia(
        f"unsupported Content-Encoding {content_encoding!r}; send the body uncompressed "
        f"(no Content-Encoding, or identity) or gzip-compressed (Content-Encoding: gzip)"
    )


def _too_many_bytes(what: str) -> str:
    return (
        f"{what} exceeds the limit of {MAX_BATCH_BYTES} bytes (10 MiB) per request; "
        f"split the events into smaller batches"
    )


def _gunzip(body: bytes) -> bytes:
    """Inflate one or more concatenated gzip members, refusing output over the limit."""
    try:
        return gunzip_bounded(body, MAX_BATCH_BYTES)
    except InflatedTooLarge:
        raise PayloadTooLarge(_too_many_bytes("decompressed body")) from None
    except TooManyMembers as exc:
        raise BadRequest(f"body is not valid gzip: {exc}") from None
    except NotGzip as exc:
        if exc.truncated:
            raise BadRequest(f"body is not valid gzip ({exc})") from None
        raise BadRequest(f"body is not valid gzip ({exc}); check Content-Encoding") from None


def _check_count(count: int) -> None:
    if count > MAX_BATCH_EVENTS:
        raise PayloadTooLarge(
            f"batch has {count} events; the limit is {MAX_BATCH_EVENTS} events per request, "
            f"split it into smaller batches"
        )


def _parse_json(data: bytes) -> list[Any]:
    if not data.strip():
        raise BadRequest(f"body is empty; send {_SHAPES}")
    try:
        value = jsontext.decode(data)
    except jsontext.NotJson as exc:
        hint = ""
        if exc.trailing:
            hint = "; for one event per line send Content-Type: application/x-ndjson"
        raise BadRequest(f"body is {exc}{hint}") from None
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and isinstance(value.get("events"), list):
        events: list[Any] = value["events"]
        return events
    got = 'an object without an "events" array' if isinstance(value, dict) else _kind(value)
    raise BadRequest(f"body must be {_SHAPES}; got {got}")


class BadLine:
    """An NDJSON line that is not JSON; validation reports it beside the invalid events, so a
    producer sees every problem of the batch at once."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _parse_ndjson(data: bytes) -> list[Any]:
    lines = [(n, line) for n, line in enumerate(data.split(b"\n"), 1) if line.strip()]
    _check_count(len(lines))
    events: list[Any] = []
    for lineno, line in lines:
        try:
            events.append(jsontext.decode(line))
        except jsontext.NotJson as exc:
            events.append(BadLine(f"line {lineno}: {exc}"))
    return events


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
