"""The edge check: every path and query value of every request is text the stores can hold.

Checked once, before any route runs (and so before authentication: a URL that is not text is
as malformed as a broken HTTP request): values must be UTF-8 once percent-decoded and hold no
NUL or other control character, and values that are ids (`account_id`, `app_id`,
`session_id`, `participant_id`, `peer_id`, and the `associated_id`/`meeting_id` queries)
follow the ids' one rule. Without it PostgreSQL refused a NUL with a server error where
SQLite answered 404. Failures are 400s naming the parameter (docs/api-decisions.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from urllib.parse import unquote_to_bytes

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from rtk_sessions.ingest.fields import id_like
from rtk_sessions.kit.errors import BadRequest

ID_PATH_PARAMS = frozenset({"account_id", "app_id", "session_id", "participant_id", "peer_id"})
ID_QUERY_PARAMS = frozenset({"associated_id", "meeting_id"})
_PEER_IDS = frozenset({"participant_id", "peer_id"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ID, _PEER_ID = id_like(), id_like(peer=True)
_SHOWN = 40


class EdgeCheck(ASGIMiddleware):
    """Refuses (400) a request whose path or query values are not acceptable text."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        check_path(scope.get("raw_path") or b"", scope.get("path_params") or {})
        check_query(scope.get("query_string") or b"")
        await next_app(scope, receive, send)


def check_path(raw_path: bytes, params: Mapping[str, object]) -> None:
    """The route's path parameters, as the router decoded them, and the raw path they came
    from (the router replaces bytes that are not UTF-8 with U+FFFD, hiding them)."""
    broken = next((s for s in raw_path.split(b"/") if _utf8(unquote_to_bytes(s)) is None), None)
    for name, value in params.items():
        if not isinstance(value, str):
            continue
        if broken is not None and "\ufffd" in value:
            raise BadRequest(f"path parameter {name}: not valid UTF-8 once percent-decoded")
        _check_value(f"path parameter {name}", name in ID_PATH_PARAMS, name in _PEER_IDS, value)
    if broken is not None:
        raise BadRequest("The path is not valid UTF-8 once percent-decoded")


def check_query(query: bytes) -> None:
    for raw_name, raw_value in _pairs(query):
        name = _utf8(raw_name)
        if name is None:
            raise BadRequest("A query parameter's name is not valid UTF-8 once percent-decoded")
        where = f"query parameter {_shown(name)}"
        if _CONTROL.search(name):
            raise BadRequest(f"{where}: the name holds {_control(name)}")
        value = _utf8(raw_value)
        if value is None:
            raise BadRequest(f"{where}: not valid UTF-8 once percent-decoded")
        _check_value(where, name in ID_QUERY_PARAMS, False, value)


def _check_value(where: str, is_id: bool, is_peer: bool, value: str) -> None:
    if _CONTROL.search(value):
        raise BadRequest(f"{where}: the value holds {_control(value)}; remove it")
    if is_id and value:
        problems = (_PEER_ID if is_peer else _ID)(value, 0)
        if problems:
            raise BadRequest(f"{where}: {problems[0][1]}")


def _pairs(query: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Percent-decoded (name, value) pairs, `+` meaning a space, as HTML forms send them."""
    for part in query.split(b"&"):
        if part:
            name, _, value = part.replace(b"+", b" ").partition(b"=")
            yield unquote_to_bytes(name), unquote_to_bytes(value)


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")  # strict: also refuses surrogates encoded as UTF-8
    except UnicodeDecodeError:
        return None


def _control(text: str) -> str:
    found = _CONTROL.search(text)
    assert found is not None
    code = ord(found.group())
    return "a NUL character (U+0000)" if code == 0 else f"a control character (U+{code:04X})"


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
