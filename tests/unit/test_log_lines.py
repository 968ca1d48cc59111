"""Log lines cannot be forged by what they interpolate, carry the request id, and redact the
secrets of signed links."""

from __future__ import annotations

import json
import logging
import logging.config
import sys

import pytest

from rtk_sessions.kit.logging import (
    REQUEST,
    ContextFilter,
    JsonFormatter,
    RequestContext,
    TextFormatter,
    escape,
    logging_config,
    request_id_from,
)
from rtk_sessions.kit.redact import redact_query


def _record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = sys.exc_info() if exc else None
    record = logging.LogRecord("rtk_sessions.test", logging.ERROR, __file__, 1, msg, args, exc_info)
    record.__dict__.update(extra)
    ContextFilter().filter(record)
    return record


def test_escape_turns_controls_into_visible_text() -> None:
    assert escape("a\nb\rc\x1b[31md\x00e") == "a\\x0ab\\x0dc\\x1b[31md\\x00e"
    assert escape("line\u2028sep\x85nel") == "line\\u2028sep\\x85nel"
    assert escape("back\\slash") == "back\\\\slash"  # so an escape cannot be faked
    assert escape("plain /path?q=1 ünïcode") == "plain /path?q=1 ünïcode"


def test_text_line_is_one_line_whatever_the_values() -> None:
    line = TextFormatter().format(_record("unhandled error on %s", "/x\n2026 INFO forged"))
    assert "\n" not in line
    assert line.endswith("unhandled error on /x\\x0a2026 INFO forged")


def test_traceback_lines_are_indented_and_escaped() -> None:
    try:
        raise ValueError("bad\nFORGED line\x1b[2J")
    except ValueError:
        record = _record("job failed", exc=True)
    first, *rest = TextFormatter().format(record).split("\n")
    assert first.endswith("job failed") and rest
    assert all(line.startswith("  | ") for line in rest)
    assert rest[-2:] == ["  | ValueError: bad", "  | FORGED line\\x1b[2J"]


def test_json_line_carries_request_id_route_and_access_fields() -> None:
    token = REQUEST.set(RequestContext("abc", {"path_template": "/files/{key}"}))
    try:
        record = _record("%s done", "x\ny", status=200, duration_ms=1.5, method="GET")
    finally:
        REQUEST.reset(token)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "x\ny done"
    assert (data["request_id"], data["route"], data["status"]) == ("abc", "/files/{key}", 200)
    assert (data["duration_ms"], data["method"], data["level"]) == (1.5, "GET", "ERROR")
    assert data["logger"] == "rtk_sessions.test" and data["time"].endswith("Z")


def test_outside_a_request_there_is_no_request_id() -> None:
    data = json.loads(JsonFormatter().format(_record("startup")))
    assert "request_id" not in data and "route" not in data
    assert " [-] startup" in TextFormatter().format(_record("startup"))


def test_request_id_is_taken_only_when_short_and_plain() -> None:
    assert request_id_from("abc") == "abc"
    assert request_id_from("req-1.2:3_x") == "req-1.2:3_x"
    for bad in (None, "", "a b", "a\nb", "x" * 129, "ünï", "a/b"):
        generated = request_id_from(bad)
        assert generated != bad and len(generated) == 32
        assert int(generated, 16) >= 0
    assert request_id_from("x" * 128) == "x" * 128


def test_secret_query_values_are_redacted() -> None:
    query = (
        "expires=1700000000&signature=deadbeef&X-Amz-Signature=abc&X-Amz-Credential=AKIA%2F1"
        "&X-Amz-Security-Token=tok&rtcstats-token=t1&format=VTT&flag&signature"
    )
    assert redact_query(query) == (
        "expires=1700000000&signature=***&X-Amz-Signature=***"
        "&X-Amz-Credential=***&X-Amz-Security-Token=***&rtcstats-token=***"
        "&format=VTT&flag&signature"
    )
    assert redact_query("") == ""


def test_every_logger_is_redacted_tracebacks_included(capsys: pytest.CaptureFixture[str]) -> None:
    """The one configuration redacts records of any logger (uvicorn's, huey's, a library's),
    not only ours, in the message and in the traceback."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logging.config.dictConfig(logging_config("text", "info"))
    try:
        raise ValueError("fetch https://user:pass@example.com/x?signature=abc failed")
    except ValueError:
        logging.getLogger("some.library").exception("token rtk_0123456789abcdef_s3cr3t seen")
    finally:
        root.handlers[:], root.level = handlers, level
    err = capsys.readouterr().err
    assert "pass@" not in err and "signature=abc" not in err and "s3cr3t" not in err, err
    assert "https://***@example.com/x?signature=***" in err
