"""HTTP glue shared by every resource: credentials from headers, the error envelope."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec

from rtk_sessions.kit.errors import PayloadTooLarge, RtkError, error_body
from rtk_sessions.kit.logging import current_request

log = logging.getLogger("rtk_sessions")

LEGACY_AUTH_HEADERS = ("x-auth-email", "x-auth-key", "x-auth-user-service-key")


class ErrorDetail(msgspec.Struct):
    code: int
    message: str


class ErrorItem(msgspec.Struct, omit_defaults=True):
    code: int
    message: str
    index: int | None = None
    id: str | None = None


class ErrorBody(msgspec.Struct):
    """Every error: RealtimeKit's `error` plus Cloudflare's `errors[]`."""

    success: bool
    error: ErrorDetail
    errors: list[ErrorItem]


_ERROR_MEANINGS = {
    400: "A path or query value, or an event, is invalid; the message says what to fix.",
    401: "Missing, unknown, revoked or non-bearer credentials.",
    403: "The token belongs to another account or app, or lacks the permission.",
    404: "No such app, session or participant.",
    413: "The batch has more than 5,000 events or 10 MiB.",
    415: "Unsupported Content-Type or Content-Encoding.",
    429: "Too many requests for this token, or failed authentications from this address; "
    "Retry-After says when to try again.",
    501: "The call acts on a live call, which needs a media server; rtk-sessions keeps "
    "meeting records only.",
    503: "The file store (S3) could not be reached or refused the request; try again later.",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error statuses a route can answer; authenticated routes (401)
    can also answer 429 (docs/security.md)."""
    if 401 in statuses:
        statuses = (*statuses, 429)
    return {
        s: ResponseSpec(
            data_container=ErrorBody, description=_ERROR_MEANINGS[s], generate_examples=False
        )
        for s in statuses
    }


def header_credentials(request: Request[Any, Any, Any]) -> tuple[str | None, bool]:
    """(Authorization header, whether Cloudflare's legacy key headers were sent)."""
    headers = request.headers
    return headers.get("authorization"), any(h in headers for h in LEGACY_AUTH_HEADERS)


def _response(
    status: int,
    message: str,
    errors_code: int,
    details: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    return Response(
        error_body(status, message, errors_code, details),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def rtk_error_handler(_: Request[Any, Any, Any], exc: RtkError) -> Response[Any]:
    return _response(exc.status, exc.message, exc.errors_code, exc.details, exc.headers)


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Framework errors (unknown route, wrong method, parameter validation) in our envelope."""
    status = exc.status_code
    code = 10000 if status in (401, 403) else status
    message = str(exc.detail)
    if isinstance(exc.extra, list) and exc.extra:  # say which parameter, and what is wrong
        message += ": " + "; ".join(
            f"{e.get('key', '')}: {e.get('message', '')}" for e in exc.extra if isinstance(e, dict)
        )
    return _response(status, message, code, [])


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return _response(500, logged_internal_error(request, exc), 500, [])


def logged_internal_error(request: Request[Any, Any, Any], exc: Exception) -> str:
    """Log the route template, never the path (raw input); the message for the client names
    the request id so the log line can be found, never the exception."""
    ctx = current_request()
    route = (ctx.route if ctx else None) or "unmatched route"
    log.error("unhandled error on %s %s", request.method, route, exc_info=exc)
    found = f" (request id {ctx.id})" if ctx else ""
    return f"Internal error; the server log has the details{found}."


async def read_body_limited(request: Request[Any, Any, Any], limit: int, what: str) -> bytes:
    """The request body, refusing (413) as soon as it exceeds `limit` bytes on the wire."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"{what} is larger than {limit // (1024 * 1024)} MiB; split it into smaller requests"
            )
        chunks.append(chunk)
    return b"".join(chunks)
