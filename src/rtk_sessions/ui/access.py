"""Who may see a dashboard page, and which forms may change something (docs/dashboard.md).

A sign-in turns a pasted API token into a random key the browser keeps in an HTTP-only,
`SameSite=Strict` cookie (`Secure` over https), scoped to /ui. Only the key's hash is stored,
with the token it came from, so every page checks the token again (a revoked token signs its
dashboard sessions out at once) and the token's permissions apply: `read` to look, `admin` to
act. Every form that changes something carries the sign-in's CSRF secret, and a request whose
Origin (or Referer) names another site is refused before its form is read.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import FromPath

from rtk_sessions.auth.deps import client_address
from rtk_sessions.auth.service import DashboardVisit, authorize, known_app, record_use, signed_in
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Reading
from rtk_sessions.kit.errors import BadRequest, Forbidden
from rtk_sessions.kit.http import read_body_limited
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms

COOKIE = "rtk_dashboard"
COOKIE_PATH = "/ui"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FORM_LIMIT = 64 * 1024  # the dashboard's forms hold a token, a URL and a few choices


def sign_in_key(request: Request[Any, Any, Any]) -> str | None:
    return request.cookies.get(COOKIE)


def served_over_https(request: Request[Any, Any, Any], rtk: AppState) -> bool:
    """Whether the browser reached us over https (directly, or through a trusted proxy that
    said so, or as RTK_PUBLIC_URL declares): the cookie is then `Secure`."""
    return request.url.scheme == "https" or rtk.settings.public_url.startswith("https://")


def cookie_settings(request: Request[Any, Any, Any], rtk: AppState) -> dict[str, Any]:
    return {
        "key": COOKIE,
        "path": COOKIE_PATH,
        "httponly": True,
        "samesite": "strict",
        "secure": served_over_https(request, rtk),
    }


def check_same_site(request: Request[Any, Any, Any]) -> None:
    """403 for a form posted from another site: browsers name the page's origin in `Origin`
    (or at least `Referer`) on every POST, and its host must be the one we were asked by."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return  # a client that sends neither is not a browser a page could have driven
    host = request.headers.get("host", "")
    if claimed == "null" or urlsplit(claimed).netloc.lower() != host.lower():
        raise Forbidden("This form was sent from another site; open the dashboard and retry")


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The url-encoded form (first value of each field), at most FORM_LIMIT bytes."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadRequest("Send the dashboard's form (application/x-www-form-urlencoded)")
    body = await read_body_limited(request, FORM_LIMIT, "The form")
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=50, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The form is not valid UTF-8 url-encoded text") from None
    return {name: values[0] for name, values in fields.items() if values}


@dataclass(frozen=True)
class PageReading(Reading):
    """A page's one read transaction, opened for a signed-in visitor of an app."""

    app: AppRef
    visit: DashboardVisit


async def _admitted(rtk: AppState, visit: DashboardVisit, app_id: str, permission: str) -> AppRef:
    """The app a signed-in visitor asked for, within the token's budget for `permission`
    and its rights, in the API's order (429, 403, then 404 for an unknown app)."""
    principal = visit.principal
    await rtk.limits.spend(principal.token_id, permission)
    authorize(principal, principal.account_id, app_id, permission)
    return AppRef(known_app(visit.app_pk, principal.account_id, app_id), app_id)


async def page_reading(
    request: Request[Any, Any, Any], rtk: NamedDependency[AppState], app_id: FromPath[str]
) -> AsyncGenerator[PageReading, None]:
    """The page's read transaction: the sign-in, its token and the app, checked in one
    statement on it, with the token's `read` permission and rate budget, as for the API."""
    await rtk.limits.check_address(client_address(request))
    async with AsyncExitStack() as stack:
        conn = await stack.enter_async_context(rtk.db.read())
        visit = await signed_in(conn, sign_in_key(request), app_id, now_ms())
        app = await _admitted(rtk, visit, app_id, "read")
        yield PageReading(conn, stack.aclose, app, visit)
    await record_use(rtk.db, visit.principal, now_ms())


@dataclass(frozen=True)
class Action:
    """A checked form that changes something: its fields, the app it acts on, the sign-in."""

    app: AppRef
    form: dict[str, str]
    visit: DashboardVisit


async def admin_action(
    request: Request[Any, Any, Any], rtk: NamedDependency[AppState], app_id: FromPath[str]
) -> Action:
    """A form post from this site, signed in, with the sign-in's CSRF secret, by a token with
    `admin` on the app; refused (401, 403, 404) before anything is changed."""
    check_same_site(request)
    await rtk.limits.check_address(client_address(request))
    form = await read_form(request)
    async with rtk.db.read() as conn:
        visit = await signed_in(conn, sign_in_key(request), app_id, now_ms())
    check_csrf(visit, request, form)
    app = await _admitted(rtk, visit, app_id, "admin")
    await record_use(rtk.db, visit.principal, now_ms())
    return Action(app, form, visit)


def check_csrf(
    visit: DashboardVisit, request: Request[Any, Any, Any], form: dict[str, str]
) -> None:
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not hmac.compare_digest(sent.encode(), visit.csrf.encode()):
        raise Forbidden("The form's security token is missing or stale; reload the page and retry")
