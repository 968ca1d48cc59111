"""Log lines: text (default) or one JSON object per line, for our loggers, uvicorn's and huey's.

Every line of a request carries its request id. No value can forge a line: text lines escape
control characters in what they interpolate and indent tracebacks; JSON escapes everything.
Every record passes kit/redact.py's filter first: credentials in URLs, signed query values and
tokens never reach a line, whichever logger wrote it (docs/security.md).
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import time
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from rtk_sessions.kit.redact import RedactSecrets

LOG_FORMATS = ("text", "json")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# C0 and C1 controls, DEL, backslash and Unicode line/paragraph separators.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\\\u2028\u2029]")
# Fields a record may carry (`extra=`) that JSON lines include; text lines keep the message.
_FIELDS = ("method", "route", "path", "status", "duration_ms", "client")


@dataclass(frozen=True)
class RequestContext:
    """What every log line of one request carries. `scope` is the ASGI scope: the route
    template is only known once the router has matched it."""

    id: str
    scope: Mapping[str, object]

    @property
    def route(self) -> str | None:
        template = self.scope.get("path_template")
        return template if isinstance(template, str) and template else None


REQUEST: ContextVar[RequestContext | None] = ContextVar("rtk_request", default=None)


def current_request() -> RequestContext | None:
    return REQUEST.get()


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is short and plain; a new id otherwise."""
    if header is not None and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(value: object) -> str:
    """`value` as one printable line: newlines, ANSI escapes and other controls become `\\xNN`."""
    return _UNSAFE.sub(_escape_char, str(value))


class ContextFilter(logging.Filter):
    """Adds `request_id` and `route` of the request being served (None outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = REQUEST.get()
        if not hasattr(record, "request_id"):
            record.request_id = ctx.id if ctx else None
        if not hasattr(record, "route"):
            record.route = ctx.route if ctx else None
        return True


def _utc(created: float) -> str:
    millis = int(created * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request id] message`; traceback lines follow, indented by `  | `."""

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None) or "-"
        line = f"{_utc(record.created)} {record.levelname} {record.name} [{rid}] "
        line += escape(record.getMessage())
        trace = self._trace(record)
        if trace:
            line += "".join(f"\n  | {escape(t)}" for t in trace.splitlines())
        return line

    def _trace(self, record: logging.LogRecord) -> str:
        parts = []
        if record.exc_text:  # set (and redacted) by RedactSecrets
            parts.append(record.exc_text)
        elif record.exc_info:
            parts.append(self.formatException(record.exc_info))
        if record.stack_info:
            parts.append(self.formatStack(record.stack_info))
        return "\n".join(parts)


class JsonFormatter(TextFormatter):
    """One JSON object per line: time, level, logger, message, request_id, route, and the
    request's method, path, status, duration_ms and client on access lines."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", *_FIELDS):
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        trace = self._trace(record)
        if trace:
            out["exception"] = trace
        return json.dumps(out, ensure_ascii=True, default=str)


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """The one logging configuration (a dictConfig), also handed to uvicorn as `log_config`."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    propagate: dict[str, Any] = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}, "redact": {"()": RedactSecrets}},
        "formatters": {"line": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["context", "redact"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            name: dict(propagate)
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "huey", "rtk_sessions")
        },
    }


def configure_logging(log_format: str, level: str) -> dict[str, Any]:
    """Apply the configuration to this process; returns it for `uvicorn.run(log_config=...)`."""
    config = logging_config(log_format, level)
    logging.config.dictConfig(config)
    return config
