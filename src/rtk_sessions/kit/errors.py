"""Errors a user can cause. Each carries its HTTP status; one handler renders the envelope.

Services raise these and never import HTTP types.
"""

from __future__ import annotations

from typing import Any


class RtkError(Exception):
    status: int = 500
    headers: dict[str, str] = {}  # extra response headers, e.g. Retry-After on a 429

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    @property
    def errors_code(self) -> int:
        """Code for `errors[].code`: Cloudflare's 10000 for auth, the HTTP status otherwise."""
        return self.status


class BadRequest(RtkError):
    status = 400


class Unauthorized(RtkError):
    status = 401

    @property
    def errors_code(self) -> int:
        return 10000


class Forbidden(RtkError):
    status = 403

    @property
    def errors_code(self) -> int:
        return 10000


class NotFound(RtkError):
    status = 404


class PayloadTooLarge(RtkError):
    status = 413


class UnsupportedMedia(RtkError):
    status = 415


class NotSupported(RtkError):
    """A call of the API that rtk-sessions cannot perform by design (it has no media server)."""

    status = 501


class Unavailable(RtkError):
    status = 503


def error_body(
    status: int, message: str, errors_code: int, details: list[dict[str, Any]]
) -> dict[str, Any]:
    """RealtimeKit's `error` object plus Cloudflare's `errors[]`, so both SDK views are filled."""
    errors = details or [{"code": errors_code, "message": message}]
    return {"success": False, "error": {"code": status, "message": message}, "errors": errors}
