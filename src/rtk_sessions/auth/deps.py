"""The HTTP side of auth: credentials from the request, checked before any other work."""

from __future__ import annotations

from typing import Any

from litestar import Request

from rtk_sessions.auth.service import Credentials, authenticate, authorize
from rtk_sessions.kit.http import header_credentials
from rtk_sessions.kit.state import AppState


def request_credentials(request: Request[Any, Any, Any]) -> Credentials:
    return Credentials(*header_credentials(request))


async def require(
    rtk: AppState, request: Request[Any, Any, Any], account_id: str, app_id: str, permission: str
) -> None:
    """401 or 403 unless the request's token may use `permission` on this account and app."""
    async with rtk.db.read() as conn:
        principal = await authenticate(conn, request_credentials(request))
    authorize(principal, account_id, app_id, permission)
