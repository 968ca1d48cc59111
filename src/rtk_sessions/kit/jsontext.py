"""Decoding one JSON text, with reasons that are ours rather than the parser library's.

msgspec decodes; its exception types and wording change between releases (0.23 reports
invalid UTF-8 differently from 0.18), so whatever it raises, the reason shown to a user is
worked out here: UTF-8 and unpaired surrogate escapes are checked before decoding, and a text
msgspec refuses is read again by the standard library's parser, whose messages (with line and
column) have been stable for years, to say what is wrong: a syntax error, a number out of
range, NaN, or nesting too deep. docs/ingestion.md lists the rules.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec

_DECODER = msgspec.json.Decoder()
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")
# A \uD800-\uDFFF escape (not an escaped backslash followed by "u"), with its low half if any.
_SURROGATE = re.compile(
    rb"(?<!\\)(?:\\\\)*\\u(?:(?P<pair>[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|[dD][89a-fA-F][0-9a-fA-F]{2})"
)
_SHOWN = 40


class NotJson(ValueError):
    """The text is not JSON we accept; str(exc) says why, e.g. `not valid UTF-8 (byte 7)`.

    `trailing` is set when a complete value is followed by more text (several values, one per
    line, perhaps)."""

    def __init__(self, reason: str, *, trailing: bool = False) -> None:
        super().__init__(reason)
        self.trailing = trailing


class _Unreadable(Exception):
    """Raised from the standard parser's hooks: a value that parses but cannot be held."""


def decode(data: bytes) -> Any:
    """The JSON value of `data` (UTF-8, no BOM); raises NotJson with a reason fit for users."""
    text = _utf8(data)
    _check_surrogates(data)
    try:
        return _DECODER.decode(data)
    except Exception:  # any failure: msgspec's types and wording vary between its releases
        raise _not_json(text) from None


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotJson(f"not valid UTF-8 (byte {exc.start})") from None


def _check_surrogates(data: bytes) -> None:
    """A lone surrogate escape decodes to text that cannot be written as UTF-8 later (a chat
    export would fail), so it is refused here, by name."""
    if _SURROGATE_HINT.search(data) is None:
        return
    for match in _SURROGATE.finditer(data):
        if match.group("pair") is None:
            raise NotJson(
                f"not valid JSON text: it holds a \\uD800-\\uDFFF escape that is not part of a "
                f"surrogate pair (byte {match.end() - 6}; a broken emoji or character); send "
                f"valid UTF-16 pairs or UTF-8"
            )


def _not_json(text: str) -> NotJson:
    """The reason the standard parser finds; the hooks refuse what msgspec cannot hold."""
    try:
        json.loads(text, parse_float=_float, parse_int=_int, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        what = exc.msg.removesuffix(" at")  # "Invalid control character at"
        where = f"line {exc.lineno}, column {exc.colno}"
        return NotJson(f"not valid JSON: {what} ({where})", trailing=what == "Extra data")
    except _Unreadable as exc:
        return NotJson(f"not valid JSON: {exc}")
    except RecursionError:
        return NotJson("not valid JSON: arrays and objects are nested too deeply")
    return NotJson("not valid JSON")


def _shown(token: str) -> str:
    return token if len(token) <= _SHOWN else f"{token[: _SHOWN - 1]}… ({len(token)} characters)"


def _float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise _Unreadable(
            f"the number {_shown(token)} is out of range; numbers must lie within ±1.8e308 "
            f"(a 64-bit float)"
        )
    return value


def _int(token: str) -> int:
    try:
        return int(token)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        raise _Unreadable(
            f"the integer {_shown(token)} has too many digits to read; send at most 4300"
        ) from None


def _constant(token: str) -> Any:
    raise _Unreadable(f"{token} is not a JSON value; send a number or null")
