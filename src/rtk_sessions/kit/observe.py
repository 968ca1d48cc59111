"""The outermost layer of every HTTP request: its request id, access log line and metrics.

It wraps the whole application, so requests no route matches (404, 405) are counted and
logged too, under the fixed route label `unmatched`.
"""

from __future__ import annotations

import logging
import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from rtk_sessions.kit import metrics
from rtk_sessions.kit.db import TALLY, Tally
from rtk_sessions.kit.logging import REQUEST, RequestContext, request_id_from
from rtk_sessions.kit.redact import redact, redact_query

access_log = logging.getLogger("rtk_sessions.access")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _target(scope: Scope) -> str:
    """The request target as sent (percent-encoded), with secret query values redacted."""
    path = bytes(scope.get("raw_path") or scope.get("path", "").encode()).decode("latin-1")
    query = redact_query(bytes(scope.get("query_string", b"")).decode("latin-1"))
    return redact(f"{path}?{query}" if query else path)  # a path may hold a credential


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"


class RequestObserver:
    """ASGI middleware: request id in, `X-Request-ID` out, one access line, metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        rid = request_id_from(_header(scope, b"x-request-id"))
        status = 500  # if the app fails before it answers
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
                message = {**message, "headers": headers}
            await send(message)

        context = RequestContext(rid, scope)
        token = REQUEST.set(context)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._finished(scope, context, status, time.perf_counter() - started)
            REQUEST.reset(token)

    @staticmethod
    def _finished(scope: Scope, context: RequestContext, status: int, seconds: float) -> None:
        method = str(scope.get("method", ""))
        route, label = context.route, method
        if route is None:  # no route matched: neither path nor method may become a label
            route, label = metrics.UNMATCHED_ROUTE, method if method in _METHODS else "OTHER"
        metrics.request_finished(label, route, status, seconds)
        target, client = _target(scope), _client(scope)
        access_log.info(
            '%s "%s %s HTTP/%s" %d %.1fms',
            client,
            method,
            target,
            scope.get("http_version", "1.1"),
            status,
            seconds * 1000,
            extra={
                "method": method,
                "path": target,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "client": client,
            },
        )


class TransactionCounter:
    """ASGI middleware (RTK_TEST_COUNT_TRANSACTIONS, tests only): `X-RTK-Transactions` and
    `X-RTK-Statements` on every response, the database transactions its request began and
    the statements it ran before answering."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        tally = Tally()

        async def send_with_count(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts = [
                    (b"x-rtk-transactions", str(tally.begun).encode()),
                    (b"x-rtk-statements", str(tally.statements).encode()),
                ]
                message = {**message, "headers": [*message.get("headers", ()), *counts]}
            await send(message)

        token = TALLY.set(tally)
        try:
            await self.app(scope, receive, send_with_count)
        finally:
            TALLY.reset(token)
