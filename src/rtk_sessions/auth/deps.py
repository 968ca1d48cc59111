"""The HTTP side of auth: credentials from the request, checked before any other work.

Every authenticated route passes here, so this is where the rate limits apply
(docs/security.md): an address with too many failed authentications gets 429 before its
credentials are even looked at, and a token gets 429 once it spent its budget.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.auth.service import (
    Credentials,
    authenticate_for,
    authorize,
    known_app,
    record_use,
)
from rtk_sessions.auth.tokens import Principal
from rtk_sessions.files.links import allowed_hosts, host_allowed
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Reading
from rtk_sessions.kit.errors import BadRequest, Unauthorized
from rtk_sessions.kit.http import header_credentials
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms


def request_credentials(request: Request[Any, Any, Any]) -> Credentials:
    return Credentials(*header_credentials(request))


def client_address(request: Request[Any, Any, Any]) -> str:
    """The socket peer; behind RTK_TRUSTED_PROXIES, the client they forwarded for."""
    return request.client.host if request.client else "unknown"


async def budgeted_principal(
    rtk: AppState,
    address: str,
    credentials: Credentials,
    conn: AsyncConnection,
    permission: str,
    app: tuple[str, str] | None = None,
) -> tuple[Principal, int | None]:
    """The token's principal (401 otherwise, counted against the address), within the
    address's and the token's budgets, and with `app` that app's key (None: no such app),
    read in the same statement. The API's requests and the dashboard's sign-in use it.

    The caller checked the address before opening `conn`, so refusals cost no database work;
    it is checked again after the lookup, because requests in flight together all passed
    that first check (docs/security.md, "Rate limits").
    """
    try:
        principal, pk = await authenticate_for(conn, credentials, app)
    except Unauthorized:
        await rtk.limits.count_failure(address)  # 429 instead if the budget filled meanwhile
        raise
    await rtk.limits.check_address(address)
    await rtk.limits.spend(principal.token_id, permission)
    return principal, pk


async def require(
    rtk: AppState, request: Request[Any, Any, Any], account_id: str, app_id: str, permission: str
) -> None:
    """401, 403 or 429 unless the request's token may use `permission` on this account and app."""
    await rtk.limits.check_address(client_address(request))
    async with rtk.db.read() as conn:
        principal, _ = await _principal(rtk, request, conn, permission)
    authorize(principal, account_id, app_id, permission)
    await record_use(rtk.db, principal, now_ms())


async def _app_access(
    request: Request[Any, Any, Any], rtk: AppState, account_id: str, app_id: str, permission: str
) -> AppRef:
    await rtk.limits.check_address(client_address(request))
    async with rtk.db.read() as conn:
        principal, pk = await _principal(rtk, request, conn, permission, (account_id, app_id))
    authorize(principal, account_id, app_id, permission)
    app = AppRef(known_app(pk, account_id, app_id), app_id)
    await record_use(rtk.db, principal, now_ms())
    return app


async def _principal(
    rtk: AppState,
    request: Request[Any, Any, Any],
    conn: AsyncConnection,
    permission: str,
    app: tuple[str, str] | None = None,
) -> tuple[Principal, int | None]:
    """`budgeted_principal` of the request's Authorization header."""
    credentials = request_credentials(request)
    return await budgeted_principal(
        rtk, client_address(request), credentials, conn, permission, app
    )


@dataclass(frozen=True)
class AppReading(Reading):
    """A read route's one transaction: the token was checked on `conn`, which the route's
    query then uses; `end` finishes it early, before an explicit write phase."""

    app: AppRef


@asynccontextmanager
async def _checked_reading(
    request: Request[Any, Any, Any],
    rtk: AppState,
    account_id: str,
    app_id: str,
    permission: str,
    resolve: bool,
) -> AsyncIterator[AppReading]:
    """One read transaction for the whole request: the token check (and the app's key when
    `resolve`) and the route's query. Then, only when due, the token's `last used` stamp: a
    write of its own after the read (kit/db.py). A request that failed is not stamped."""
    await rtk.limits.check_address(client_address(request))
    async with AsyncExitStack() as stack:
        conn = await stack.enter_async_context(rtk.db.read())
        app = (account_id, app_id) if resolve else None
        principal, pk = await _principal(rtk, request, conn, permission, app)
        authorize(principal, account_id, app_id, permission)
        known = known_app(pk, account_id, app_id) if resolve else 0
        yield AppReading(conn, stack.aclose, AppRef(known, app_id))
    await record_use(rtk.db, principal, now_ms())


async def app_reading(
    request: Request[Any, Any, Any],
    rtk: NamedDependency[AppState],
    account_id: FromPath[str],
    app_id: FromPath[str],
) -> AsyncGenerator[AppReading, None]:
    """The request's read transaction on an RTK route's app, for a token with `read` on it
    (401, 403, 404 otherwise). Routes that parse queries do so in the handler, after this:
    a dependency failing after this one would leave its transaction to the garbage collector."""
    async with _checked_reading(request, rtk, account_id, app_id, "read", True) as reading:
        yield reading


async def ingest_reading(
    request: Request[Any, Any, Any],
    rtk: NamedDependency[AppState],
    account_id: FromPath[str],
    app_id: FromPath[str],
) -> AsyncGenerator[AsyncConnection, None]:
    """The request's read transaction on an ingest route, for a token with `ingest` on the
    app (which need not exist yet: ingesting creates it)."""
    async with _checked_reading(request, rtk, account_id, app_id, "ingest", False) as reading:
        yield reading.conn


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
    """Where links point: RTK_PUBLIC_URL, else the scheme and host this request came to,
    provided its Host header names an allowed host (400 otherwise; docs/security.md)."""
    configured = rtk.settings.public_url
    if configured:
        return configured.rstrip("/")
    host = request.headers.get("host")
    if host is not None and not host_allowed(host, allowed_hosts(rtk.settings)):
        raise BadRequest(
            f"Host {host[:100]!r} is not a name this service hands out links for: set "
            "RTK_PUBLIC_URL to the URL clients use, or add the host to RTK_ALLOWED_HOSTS"
        )
    return str(request.base_url).rstrip("/")
