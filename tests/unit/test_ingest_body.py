"""decode_body: media types, encodings, limits, JSON and NDJSON errors."""

from __future__ import annotations

import gzip
import json
import struct
import tracemalloc
import zlib
from typing import Any

import pytest

from rtk_sessions.ingest.body import decode_body
from rtk_sessions.ingest.schemas import MAX_BATCH_BYTES, MAX_BATCH_EVENTS
from rtk_sessions.ingest.validation import validate_events
from rtk_sessions.kit.errors import BadRequest, PayloadTooLarge, UnsupportedMedia
from rtk_sessions.kit.gzip import MAX_MEMBERS

EVENTS = [{"id": "e1", "type": "meeting.ended"}, {"id": "e2", "type": "peer.left"}]


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _ndjson(values: list[Any]) -> bytes:
    return b"\n".join(_json(v) for v in values) + b"\n"


def _gzip_bomb(total_mib: int) -> bytes:
    """One gzip member inflating to `total_mib` MiB of zeros, built without compressing it all.

    After Z_FULL_FLUSH the deflate state is reset, so every further 1 MiB block compresses to
    the same bytes; the trailer carries the true CRC and size, so the stream is valid gzip.
    """
    block = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    deflated = first + again * (total_mib - 1) + comp.flush()
    crc = 0
    for _ in range(total_mib):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + deflated + struct.pack("<II", crc, (total_mib << 20) & 0xFFFFFFFF)


# --- media types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "", "application/json", "application/json; charset=utf-8", "Application/JSON"],
)
@pytest.mark.parametrize("shape", ["array", "object"])
def test_json_bodies(content_type: str | None, shape: str) -> None:
    body = _json(EVENTS if shape == "array" else {"events": EVENTS, "other": 1})
    assert decode_body(body, content_type, None) == EVENTS


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-ndjson; charset=utf-8",
    ],
)
def test_ndjson_bodies(content_type: str) -> None:
    assert decode_body(_ndjson(EVENTS), content_type, None) == EVENTS


def test_ndjson_blank_lines_crlf_and_no_trailing_newline() -> None:
    body = b"\n\r\n" + _json(EVENTS[0]) + b"\r\n   \n\t\n" + _json(EVENTS[1])
    assert decode_body(body, "application/x-ndjson", None) == EVENTS


def test_ndjson_keeps_non_object_lines_for_validation() -> None:
    assert decode_body(b'[1]\n"x"\n', "application/x-ndjson", None) == [[1], "x"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data"])
def test_unsupported_content_type_is_415_listing_accepted_types(content_type: str) -> None:
    with pytest.raises(UnsupportedMedia) as exc:
        decode_body(_json(EVENTS), content_type, None)
    assert exc.value.status == 415
    assert content_type in exc.value.message
    for accepted in ("application/json", "application/x-ndjson", "application/jsonl"):
        assert accepted in exc.value.message


# --- encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "", "identity", "IDENTITY"])
def test_identity_encodings(encoding: str | None) -> None:
    assert decode_body(_json(EVENTS), "application/json", encoding) == EVENTS


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", "x-gzip", " gzip ", "gzip, identity"])
@pytest.mark.parametrize("ndjson", [False, True])
def test_gzip_bodies(encoding: str, ndjson: bool) -> None:
    raw = _ndjson(EVENTS) if ndjson else _json(EVENTS)
    content_type = "application/x-ndjson" if ndjson else "application/json"
    assert decode_body(gzip.compress(raw), content_type, encoding) == EVENTS


def test_gzip_multi_member_and_zero_padding() -> None:
    body = gzip.compress(b'[{"id": "e1", ') + gzip.compress(b'"type": "meeting.ended"}]') + bytes(8)
    assert decode_body(body, "application/json", "gzip") == [EVENTS[0]]


def test_gzip_members_up_to_the_cap_are_inflated() -> None:
    body = gzip.compress(b"") * (MAX_MEMBERS - 1) + gzip.compress(b"[]")
    assert decode_body(body, "application/json", "gzip") == []


def test_more_gzip_members_than_the_cap_is_400() -> None:
    # The quadratic case of issue 8: inflating each member copied the rest of the body.
    body = gzip.compress(b"") * 100_000 + gzip.compress(b"[]")
    with pytest.raises(BadRequest) as exc:
        decode_body(body, "application/json", "gzip")
    assert exc.value.message == (
        f"body is not valid gzip: it has more than {MAX_MEMBERS} gzip members; compress it as "
        "one gzip stream"
    )


def test_a_large_member_after_many_small_ones_is_inflated_whole() -> None:
    payload = json.dumps([{"i": i, "pad": "x" * 500} for i in range(5000)]).encode()
    body = gzip.compress(b"") * 500 + gzip.compress(payload[:7]) + gzip.compress(payload[7:])
    assert len(decode_body(body + bytes(3), "application/json", "gzip")) == 5000


@pytest.mark.parametrize(
    "encoding", ["br", "deflate", "compress", "zstd", "gzip, br", "gzip, gzip"]
)
def test_unsupported_encoding_is_415(encoding: str) -> None:
    with pytest.raises(UnsupportedMedia) as exc:
        decode_body(_json(EVENTS), "application/json", encoding)
    assert exc.value.status == 415
    assert "Content-Encoding" in exc.value.message and "gzip" in exc.value.message


@pytest.mark.parametrize(
    "body",
    [
        _json(EVENTS),  # not compressed at all
        gzip.compress(_json(EVENTS))[:-12],  # truncated
        gzip.compress(_json(EVENTS))[:10] + b"garbage-garbage-garbage",
        gzip.compress(_json(EVENTS)) + b"trailing junk",
        b"",
    ],
    ids=["plain", "truncated", "corrupt", "trailing-junk", "empty"],
)
def test_invalid_gzip_is_400(body: bytes) -> None:
    with pytest.raises(BadRequest) as exc:
        decode_body(body, "application/json", "gzip")
    assert exc.value.status == 400
    assert exc.value.message.startswith("body is not valid gzip")


# --- size limits -------------------------------------------------------------------------


def _padded_array(size: int) -> bytes:
    """A JSON body of exactly `size` bytes holding EVENTS."""
    base = _json(EVENTS)
    return base[:-1] + b" " * (size - len(base)) + b"]"


def test_exactly_the_byte_limit_is_accepted_raw_and_gzipped() -> None:
    body = _padded_array(MAX_BATCH_BYTES)
    assert decode_body(body, "application/json", None) == EVENTS
    assert decode_body(gzip.compress(body), "application/json", "gzip") == EVENTS


def test_raw_body_over_the_limit_is_413() -> None:
    with pytest.raises(PayloadTooLarge) as exc:
        decode_body(_padded_array(MAX_BATCH_BYTES + 1), "application/json", None)
    assert exc.value.status == 413
    assert str(MAX_BATCH_BYTES) in exc.value.message and "10 MiB" in exc.value.message


def test_decompressed_body_over_the_limit_is_413() -> None:
    body = gzip.compress(_padded_array(MAX_BATCH_BYTES + 1))
    with pytest.raises(PayloadTooLarge) as exc:
        decode_body(body, "application/json", "gzip")
    assert "decompressed" in exc.value.message and "10 MiB" in exc.value.message


def test_bomb_construction_is_valid_gzip() -> None:
    assert gzip.decompress(_gzip_bomb(3)) == bytes(3 << 20)


@pytest.mark.parametrize("members", [1, 4], ids=["single-member", "multi-member"])
def test_gzip_bomb_of_1_gib_is_refused_in_bounded_memory(members: int) -> None:
    bomb = _gzip_bomb(1024 // members) * members  # 1 GiB of zeros in total
    assert len(bomb) < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            decode_body(bomb, "application/json", "gzip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * MAX_BATCH_BYTES  # output buffer plus one chunk, never the gigabyte


# --- event count -------------------------------------------------------------------------


@pytest.mark.parametrize("ndjson", [False, True])
def test_event_count_limit(ndjson: bool) -> None:
    content_type = "application/x-ndjson" if ndjson else "application/json"
    encode = _ndjson if ndjson else _json
    events = [{"i": i} for i in range(MAX_BATCH_EVENTS)]
    assert len(decode_body(encode(events), content_type, None)) == MAX_BATCH_EVENTS
    with pytest.raises(PayloadTooLarge) as exc:
        decode_body(encode([*events, {"i": -1}]), content_type, None)
    assert exc.value.status == 413
    assert f"{MAX_BATCH_EVENTS + 1} events" in exc.value.message
    assert f"limit is {MAX_BATCH_EVENTS} events" in exc.value.message


# --- JSON errors and shapes --------------------------------------------------------------


def test_empty_array_and_empty_events() -> None:
    assert decode_body(b"[]", "application/json", None) == []
    assert decode_body(b'{"events": []}', "application/json", None) == []
    assert decode_body(b"", "application/x-ndjson", None) == []
    assert decode_body(b"\n \n", "application/x-ndjson", None) == []


def test_utf8_bom_is_tolerated() -> None:
    assert decode_body(b"\xef\xbb\xbf" + _json(EVENTS), "application/json", None) == EVENTS


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'[{"id": "e1",]', "body is not valid JSON: "),
        (b"[1] [2]", "body is not valid JSON: Extra data (line 1, column 5)"),
        (b'["\xff"]', "body is not valid UTF-8 (byte 2)"),
        (b"", "body is empty; send a JSON array of events"),
        (b"  \n", "body is empty; send a JSON array of events"),
    ],
)
def test_invalid_json_is_400(body: bytes, expected: str) -> None:
    with pytest.raises(BadRequest) as exc:
        decode_body(body, "application/json", None)
    assert exc.value.message.startswith(expected)


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ({"event": []}, 'an object without an "events" array'),
        ({"events": {"id": "e1"}}, 'an object without an "events" array'),
        ("events", "a string"),
        (42, "a number"),
        (None, "null"),
        (True, "a boolean"),
    ],
)
def test_wrong_shape_is_400_naming_both_shapes(value: Any, got: str) -> None:
    with pytest.raises(BadRequest) as exc:
        decode_body(_json(value), "application/json", None)
    assert exc.value.message == (
        f'body must be a JSON array of events, or an object {{"events": [...]}}; got {got}'
    )


def test_ndjson_sent_as_json_gets_a_hint() -> None:
    with pytest.raises(BadRequest) as exc:
        decode_body(_ndjson(EVENTS), "application/json", None)
    assert exc.value.message.endswith(
        "; for one event per line send Content-Type: application/x-ndjson"
    )


def test_ndjson_bad_lines_become_placeholders_in_their_place() -> None:
    body = b'{"id": "a"}\n\n{"id": \n{"id": "c"}\n\nnot json\n'
    decoded = decode_body(body, "application/x-ndjson", None)
    assert [type(d).__name__ for d in decoded] == ["dict", "BadLine", "dict", "BadLine"]
    assert decoded[1].reason.startswith("line 3: not valid JSON: ")
    assert decoded[3].reason.startswith("line 6: not valid JSON: ")


def test_ndjson_bad_lines_are_reported_with_the_invalid_events() -> None:
    body = b'{"id": "a"}\n"\xff"\n'
    _, errors = validate_events(decode_body(body, "application/x-ndjson", None), 0)
    bad_line = {"code": 400, "message": "events[1]: line 2: not valid UTF-8 (byte 1)", "index": 1}
    assert errors[-1] == bad_line
    assert errors[0]["index"] == 0 and errors[0]["id"] == "a"  # the first line is an invalid event


# Every reason below is ours (or the standard library's parser's), whatever msgspec says.
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'["\xff"]', "not valid UTF-8 (byte 2)"),
        (b'[{"id": "\xed\xa0\x80"}]', "not valid UTF-8 (byte 9)"),  # a surrogate as UTF-8
        (b'[{"a": 1,]', "not valid JSON: Expecting property name enclosed in double quotes "
                        "(line 1, column 10)"),
        (b'["a\x01"]', "not valid JSON: Invalid control character (line 1, column 4)"),
        (b"[1,\n2", "not valid JSON: Expecting ',' delimiter (line 2, column 2)"),
        (b'[{"occurred_at": 1e400}]', "not valid JSON: the number 1e400 is out of range; "
                                     "numbers must lie within ±1.8e308 (a 64-bit float)"),
        (b"[-2.5E+999]", "not valid JSON: the number -2.5E+999 is out of range"),
        (b"[1" + b"0" * 4300 + b"]", "not valid JSON: the integer 1000000000000000000000000000"
                                     "00000000000… (4301 characters) has too many digits"),
        (b"[NaN]", "not valid JSON: NaN is not a JSON value; send a number or null"),
        (b"[-Infinity]", "not valid JSON: -Infinity is not a JSON value"),
        (b"[" * 100_000, "not valid JSON: arrays and objects are nested too deeply"),
    ],
    ids=["utf8", "utf8-surrogate", "syntax", "control", "line", "1e400", "float", "int", "nan",
         "infinity", "depth"],
)  # fmt: skip
def test_json_reasons_do_not_depend_on_the_parser_library(body: bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as exc:
        decode_body(body, "application/json", None)
    assert exc.value.message.startswith(f"body is {reason}"), exc.value.message
    if b"\n" not in body:
        [line] = decode_body(b"\n" + body + b"\n", "application/x-ndjson", None)
        assert line.reason.startswith(f"line 2: {reason}"), line.reason


def test_numbers_in_range_are_read() -> None:
    big = int("9" * 4300)
    body = b'[{"a": 1.7e308, "b": -1e-400, "c": ' + str(big).encode() + b"}]"
    assert decode_body(body, "application/json", None) == [{"a": 1.7e308, "b": -0.0, "c": big}]


@pytest.mark.parametrize(
    ("text", "byte"),
    [(b"a\\ud800b", 15), (b"\\uDC00", 14), (b"\\ud83d\\ud83d\\ude00", 14),
     (b"\\\\\\udbff", 16), (b"\\ud83d", 14)],
    ids=["high", "low", "high-high-low", "after-escaped-backslash", "at-the-end"],
)  # fmt: skip
def test_a_lone_surrogate_escape_is_named_as_such(text: bytes, byte: int) -> None:
    # Such text cannot be written as UTF-8 (a chat export would fail later): refuse it here.
    with pytest.raises(BadRequest) as exc:
        decode_body(b'[{"payload": "' + text + b'"}]', "application/json", None)
    assert exc.value.message.startswith(
        "body is not valid JSON text: it holds a \\uD800-\\uDFFF escape that is not part of a "
        f"surrogate pair (byte {byte};"
    ), exc.value.message


def test_an_escaped_backslash_before_u_is_no_escape() -> None:
    body = b'[{"payload": "\\\\ud800 \\\\\\\\uDC00"}]'
    assert decode_body(body, "application/json", None) == [{"payload": "\\ud800 \\\\uDC00"}]


def test_a_surrogate_pair_is_one_character() -> None:
    with pytest.raises(BadRequest, match="not valid JSON: "):
        decode_body(b'[{"payload": "\\ud83d\\ude00"', "application/json", None)
    assert decode_body(b'[{"payload": "\\ud83d\\ude00"}]', "application/json", None) == [
        {"payload": "\U0001f600"}
    ]
