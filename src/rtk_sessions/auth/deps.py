"""The HTTP side of auth: credentials from the request, checked before any other work."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import FromPath

from rtk_sessions.auth.service import (
    Credentials,
    authenticate,
    authorize,
    record_use,
    resolve_app,
)
from rtk_sessions.kit.http import header_credentials
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.sessions.derivation import AppRef


def request_credentials(request: Request[Any, Any, Any]) -> Credentials:
    return Credentials(*header_credentials(request))


async def require(
    rtk: AppState, request: Request[Any, Any, Any], account_id: str, app_id: str, permission: str
) -> None:
    """401 or 403 unless the request's token may use `permission` on this account and app."""
    async with rtk.db.read() as conn:
        principal = await authenticate(conn, request_credentials(request))
    authorize(principal, account_id, app_id, permission)
    await record_use(rtk.db, principal, now_ms())


async def _app_access(
    request: Request[Any, Any, Any], rtk: AppState, account_id: str, app_id: str, permission: str
) -> AppRef:
    async with rtk.db.read() as conn:
        principal = await authenticate(conn, request_credentials(request))
        authorize(principal, account_id, app_id, permission)
        pk = await resolve_app(conn, account_id, app_id)
    await record_use(rtk.db, principal, now_ms())
    return AppRef(pk, app_id)


async def read_access(
    request: Request[Any, Any, Any],
    rtk: NamedDependency[AppState],
    account_id: FromPath[str],
    app_id: FromPath[str],
) -> AppRef:
    """The app of an RTK route, for a token with `read` on it (401, 403, 404 otherwise)."""
    return await _app_access(request, rtk, account_id, app_id, "read")


async def admin_access(
    request: Request[Any, Any, Any],
    rtk: NamedDependency[AppState],
    account_id: FromPath[str],
    app_id: FromPath[str],
) -> AppRef:
    """The app of an RTK route that starts work, for a token with `admin` on it."""
    return await _app_access(request, rtk, account_id, app_id, "admin")


def public_base_url(request: Request[Any, Any, Any], rtk: AppState) -> str:
    """Where links point: RTK_PUBLIC_URL, else the scheme and host this request came to."""
    configured = rtk.settings.public_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")
