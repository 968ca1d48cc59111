"""The dashboard's pages under /ui (docs/dashboard.md). Handlers are thin: they read through
the same services as the API, in one read transaction per page, and hand the results to a
template; what to draw is shaped by ui/views.py and quality/verdict.py."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath, Parameter
from litestar.response import Redirect

from rtk_sessions.auth import service as auth
from rtk_sessions.auth.deps import budgeted_principal, client_address, public_base_url
from rtk_sessions.chat.service import chat_export, chat_messages
from rtk_sessions.files.service import link_for
from rtk_sessions.kit.errors import BadRequest, Forbidden, NotFound, RtkError, Unauthorized
from rtk_sessions.kit.http import logged_internal_error
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.quality.service import peer_report, rebuild_peer_report
from rtk_sessions.quality.verdict import verdict
from rtk_sessions.sessions import service as sessions
from rtk_sessions.sessions.queries import session_query, whole_number
from rtk_sessions.sessions.schemas import participant_out, session_stats
from rtk_sessions.sessions.usage import day_iso, day_range
from rtk_sessions.sessions.usage_service import daywise_usage
from rtk_sessions.summaries.service import request_summary, summary_link, summary_view
from rtk_sessions.transcripts.formats import FORMATS, speaker_name
from rtk_sessions.transcripts.service import transcript_export, transcript_of
from rtk_sessions.ui import views
from rtk_sessions.ui.access import (
    COOKIE,
    COOKIE_PATH,
    CSRF_FIELD,
    Action,
    PageReading,
    admin_action,
    check_csrf,
    check_same_site,
    cookie_settings,
    page_reading,
    read_form,
    sign_in_key,
)
from rtk_sessions.ui.render import html, is_partial
from rtk_sessions.webhooks import service as webhooks
from rtk_sessions.webhooks.model import EVENTS

Q = Annotated[str | None, Parameter(required=False)]
READING = {"reading": Provide(page_reading)}
ACTION = {"action": Provide(admin_action)}
SESSION_FILTERS = (
    "page_no",
    "per_page",
    "sort_by",
    "sort_order",
    "start_time",
    "end_time",
    "status",
    "search",
    "meeting_id",
    "participants",
)
# A page shows at most this much of a session (the files have it all), so that a webinar of
# thousands or a day-long transcript still renders in milliseconds.
CHAT_SHOWN = 300
TRANSCRIPT_SHOWN = 2000
ROWS_SHOWN = 500  # people, connections, timeline rows
DELIVERIES_SHOWN = 100
DELIVERIES_PER_PAGE = 50  # of a webhook's delivery log


def _frame(reading: PageReading | Action, active: str) -> dict[str, Any]:
    """What every page's frame shows: the app, the navigation, the CSRF secret for forms."""
    principal = reading.visit.principal
    return {
        "app_id": reading.app.app_id,
        "account_id": principal.account_id,
        "csrf": reading.visit.csrf,
        "csrf_field": CSRF_FIELD,
        "can_act": principal.can("admin"),
        "active": active,
    }


# --- signing in and out ---------------------------------------------------------------------


@get("/sign-in")
async def sign_in_page(rtk: NamedDependency[AppState], next: Q = None) -> Response[str]:
    return html("sign_in.html", next=_local(next), error=None, loopback=rtk.settings.on_loopback)


_LOCAL = re.compile(r"/ui/(?!/)[A-Za-z0-9._~:/?=&%+-]{0,500}")


def _local(target: str | None) -> str:
    """Where to go after signing in: a dashboard path (plain URL characters only, so nothing
    can end the Location header or name another site); else the dashboard's start."""
    return target if target and _LOCAL.fullmatch(target) else "/ui/"


@post("/sign-in")
async def sign_in(request: Request[Any, Any, Any], rtk: NamedDependency[AppState]) -> Response[Any]:
    """A pasted API token becomes a sign-in; a wrong one counts as a failed authentication."""
    check_same_site(request)
    address = client_address(request)
    await rtk.limits.check_address(address)
    form = await read_form(request)
    target = _local(form.get("next"))
    credentials = auth.pasted_token(form.get("token", ""))
    try:  # checked and budgeted as an API request with `read` is
        async with rtk.db.read() as conn:
            principal, _ = await budgeted_principal(rtk, address, credentials, conn, "read")
    except Unauthorized:
        error = "That token is not valid (or was revoked). Paste a whole rtk_… API token."
        return html("sign_in.html", status=401, next=target, error=error, loopback=False)
    async with rtk.db.write() as conn:
        key = await auth.sign_in(conn, principal, now_ms())
    response: Response[Any] = Redirect(target, status_code=303)
    response.set_cookie(value=key, max_age=auth.SIGN_IN_MS // 1000, **cookie_settings(request, rtk))
    return response


@post("/sign-out")
async def sign_out(
    request: Request[Any, Any, Any], rtk: NamedDependency[AppState]
) -> Response[Any]:
    """Ends the sign-in (with its CSRF secret, so no other site can sign you out)."""
    check_same_site(request)
    form = await read_form(request)
    key = sign_in_key(request)
    if key:
        async with rtk.db.write() as conn:
            visit = await auth.signed_in(conn, key, None, now_ms())
            check_csrf(visit, request, form)
            await auth.sign_out(conn, key)
    response: Response[Any] = Redirect("/ui/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


@get("/")
async def home(request: Request[Any, Any, Any], rtk: NamedDependency[AppState]) -> Response[Any]:
    """The token's app, or a choice among its account's apps."""
    async with rtk.db.read() as conn:
        visit = await auth.signed_in(conn, sign_in_key(request), None, now_ms())
        app_ids = await auth.apps_of(conn, visit.principal)
    if len(app_ids) == 1:
        return Redirect(f"/ui/apps/{app_ids[0]}/", status_code=303)
    return html(
        "apps.html",
        account_id=visit.principal.account_id,
        app_ids=app_ids,
        csrf=visit.csrf,
        csrf_field=CSRF_FIELD,
    )


# --- usage ----------------------------------------------------------------------------------


@get("/apps/{app_id:str}/", dependencies=READING)
async def usage_page(
    reading: NamedDependency[PageReading], start_date: Q = None, end_date: Q = None
) -> Response[str]:
    """Minutes and sessions per day over a range, what is live now, the busiest meetings."""
    now = now_ms()
    first, last = day_range(start_date, end_date, now)
    days = await daywise_usage(reading.conn, reading.app, first, last, now)
    live_query = session_query({"status": "LIVE", "per_page": "10"})
    live, live_page = await sessions.list_sessions(reading.conn, reading.app, live_query, now)
    busiest = await sessions.busiest_meetings(
        reading.conn, reading.app, first * 86_400_000, (last + 1) * 86_400_000, now
    )
    return html(
        "usage.html",
        **_frame(reading, "usage"),
        stats=session_stats(days),
        chart=views.usage_chart(days),
        first=day_iso(first),
        last=day_iso(last),
        live=live,
        live_total=live_page.total_count,
        busiest=busiest,
    )


# --- sessions -------------------------------------------------------------------------------


@get("/apps/{app_id:str}/sessions", dependencies=READING)
async def sessions_page(
    request: Request[Any, Any, Any], reading: NamedDependency[PageReading]
) -> Response[str]:
    """The API's list with its filters, sorts and paging; LIVE rows refresh by polling."""
    given = {k: v for k in SESSION_FILTERS if (v := request.query_params.get(k))}
    now = now_ms()
    try:
        query = session_query(given)
    except BadRequest as exc:
        return html(
            "sessions.html",
            status=400,
            **_frame(reading, "sessions"),
            given=given,
            error=exc.message,
            rows=[],
            paging=None,
            pages={},
            refresh=False,
        )
    rows, paging = await sessions.list_sessions(reading.conn, reading.app, query, now)
    pages = _paging_links(request, given, query.page_no, query.per_page, paging.total_count)
    return html(
        "_sessions_table.html" if is_partial(request) else "sessions.html",
        **_frame(reading, "sessions"),
        given=given,
        error=None,
        rows=rows,
        paging=paging,
        pages=pages,
        refresh=any(r.status == "LIVE" for r in rows) or given.get("status") == "LIVE",
        self_url=f"{request.url.path}?{urlencode(given)}",
    )


def _paging_links(
    request: Request[Any, Any, Any], given: dict[str, str], page_no: int, per_page: int, total: int
) -> dict[str, str]:
    last = max(1, -(-total // per_page))
    links = {}
    for name, number in (
        ("first", 1),
        ("previous", page_no - 1),
        ("next", page_no + 1),
        ("last", last),
    ):
        if 1 <= number <= last and number != page_no:
            links[name] = f"{request.url.path}?{urlencode({**given, 'page_no': str(number)})}"
    links["label"] = f"page {page_no} of {last}"
    return links


@get("/apps/{app_id:str}/sessions/{session_id:str}", dependencies=READING)
async def session_page(
    request: Request[Any, Any, Any],
    rtk: NamedDependency[AppState],
    reading: NamedDependency[PageReading],
    session_id: FromPath[str],
    q: Q = None,
) -> Response[str]:
    """Everything about one session, each part read once."""
    now = now_ms()
    conn, app = reading.conn, reading.app
    overview = await sessions.session_overview(conn, app, session_id, now)
    row = overview.row
    messages, more_chat = await chat_messages(rtk.db.dialect, conn, app.pk, row, CHAT_SHOWN)
    try:
        segments = await transcript_of(rtk, conn, app, row, now)
    except NotFound:  # none, or past retention: the page says "No transcript"
        segments = []
    term = (q or "").strip()[:200]
    transcript, matches = views.transcript_lines(segments, row.started_at, term, TRANSCRIPT_SHOWN)
    people = overview.people(now)
    deliveries = await webhooks.session_deliveries(
        conn, app, row.meeting_id, row.id, DELIVERIES_SHOWN
    )
    summary = await summary_view(rtk, reading, app, row)  # ends the read transaction
    return html(
        "session.html",
        **_frame(reading, "sessions"),
        s=overview.session,
        row=row,
        raw=[participant_out(p, now, False) for p in overview.peers[:ROWS_SHOWN]],
        raw_total=len(overview.peers),
        people=people[:ROWS_SHOWN],
        people_total=len(people),
        timeline=views.timeline(row, overview.rooms, overview.peers, now, ROWS_SHOWN),
        concurrency=views.concurrency_chart(row, overview.rooms, overview.peers, now),
        messages=messages,
        more_chat=more_chat,
        transcript=transcript,
        transcript_total=len(segments),
        transcript_matches=matches,
        term=term,
        summary=summary,
        deliveries=deliveries,
        formats=FORMATS,
    )


@get("/apps/{app_id:str}/sessions/{session_id:str}/summary", dependencies=READING)
async def summary_part(
    rtk: NamedDependency[AppState], reading: NamedDependency[PageReading], session_id: FromPath[str]
) -> Response[str]:
    """The summary section alone: what the page polls while a summary is being made."""
    row = await sessions.find_session(reading.conn, reading.app, session_id)
    summary = await summary_view(rtk, reading, reading.app, row)
    return html(
        "_summary.html",
        **_frame(reading, "sessions"),
        row=row,
        summary=summary,
        # Only a session with a transcript was ever asked for a summary.
        has_transcript=summary.status is not None,
    )


@post("/apps/{app_id:str}/sessions/{session_id:str}/summary", dependencies=ACTION)
async def generate_summary(
    request: Request[Any, Any, Any],
    rtk: NamedDependency[AppState],
    action: NamedDependency[Action],
    session_id: FromPath[str],
) -> Response[Any]:
    """Start a summary (admin), as POST .../summary does; back to the session's summary."""
    found, _ = await request_summary(rtk, action.app, session_id, now_ms())
    target = f"/ui/apps/{action.app.app_id}/sessions/{found}"
    if is_partial(request):
        return Redirect(f"{target}/summary", status_code=303)
    return Redirect(f"{target}#summary", status_code=303)


@get("/apps/{app_id:str}/sessions/{session_id:str}/files/{kind:str}", dependencies=READING)
async def download(
    request: Request[Any, Any, Any],
    rtk: NamedDependency[AppState],
    reading: NamedDependency[PageReading],
    session_id: FromPath[str],
    kind: FromPath[str],
) -> Response[Any]:
    """A session's file, through the same signed link the API hands out: the chat CSV, the
    transcript in each format, the summary."""
    now = now_ms()
    base = public_base_url(request, rtk)
    what, _, file_format = kind.partition("-")
    if kind == "chat":
        session, built = await chat_export(rtk, reading, reading.app, session_id, now)
    elif what == "transcript" and file_format in FORMATS:
        session, built = await transcript_export(
            rtk, reading, reading.app, session_id, file_format, now
        )
    elif kind == "summary":
        _, link = await summary_link(rtk, reading, reading.app, session_id, base, now)
        return Redirect(link.url, status_code=303)
    else:
        raise NotFound(f"No file {kind[:40]!r}: chat, summary or transcript-CSV/JSON/SRT/VTT")
    await reading.end()
    link = await link_for(rtk, session, built.key, base, now, what)
    return Redirect(link.url, status_code=303)


# --- a peer ---------------------------------------------------------------------------------


@get("/apps/{app_id:str}/peers/{peer_id:str}", dependencies=READING)
async def peer_page(
    rtk: NamedDependency[AppState], reading: NamedDependency[PageReading], peer_id: FromPath[str]
) -> Response[str]:
    """A peer's device, network, events and call quality, with a verdict on top."""
    found = await peer_report(reading.conn, reading.app, peer_id, rtk.settings)
    session = await sessions.find_session(reading.conn, reading.app, found.peer.session_id)
    if found.stale:  # built now, after the read, as GET .../peer-report does
        await reading.end()
        found = await rebuild_peer_report(rtk.db, reading.app, found, rtk.settings)
    served = found.served(None, True)
    report = served["peer_report"]
    quality = report.get("quality") or {}
    who = speaker_name(found.peer.display_name, found.peer.custom_participant_id, found.peer.id)
    return html(
        "peer.html",
        **_frame(reading, "sessions"),
        peer=served,
        who=who,
        session=session,
        report=report,
        sections=views.quality_sections(quality),
        events=views.peer_events(served),
        verdict=verdict(quality, who),
    )


# --- webhooks (admin) -----------------------------------------------------------------------


def _admin_only(reading: PageReading) -> None:
    if not reading.visit.principal.can("admin"):
        raise Forbidden("Webhooks are managed with an admin token; this token can only read")


@get("/apps/{app_id:str}/webhooks", dependencies=READING)
async def webhooks_page(
    rtk: NamedDependency[AppState], reading: NamedDependency[PageReading]
) -> Response[str]:
    _admin_only(reading)
    await reading.end()
    rows = await webhooks.list_webhooks(rtk.db, reading.app)
    return html(
        "webhooks.html",
        **_frame(reading, "webhooks"),
        hooks=rows,
        events=EVENTS,
        error=None,
        form={},
    )


@post("/apps/{app_id:str}/webhooks", dependencies=ACTION)
async def create_webhook(
    rtk: NamedDependency[AppState], action: NamedDependency[Action]
) -> Response[Any]:
    """Create a webhook from the form, validated as the API validates it."""
    form = action.form
    chosen = [e for e in EVENTS if form.get(f"event:{e}") == "on"]
    body = {
        "name": form.get("name", ""),
        "url": form.get("url", ""),
        "events": chosen,
        "enabled": form.get("enabled") == "on",
    }
    try:
        await webhooks.create_webhook(rtk.db, action.app, body, now_ms())
    except BadRequest as exc:  # the form again, as filled in, with what to fix
        rows = await webhooks.list_webhooks(rtk.db, action.app)
        return html(
            "webhooks.html",
            status=400,
            **_frame(action, "webhooks"),
            hooks=rows,
            events=EVENTS,
            error=exc.message,
            form=form,
        )
    return Redirect(f"/ui/apps/{action.app.app_id}/webhooks", status_code=303)


@post("/apps/{app_id:str}/webhooks/{webhook_id:str}/enabled", dependencies=ACTION)
async def switch_webhook(
    rtk: NamedDependency[AppState], action: NamedDependency[Action], webhook_id: FromPath[str]
) -> Response[Any]:
    """Enable or disable (the form's `enabled` is on or off), as PATCH does."""
    body = {"enabled": action.form.get("enabled") == "on"}
    await webhooks.change_webhook(rtk.db, action.app, webhook_id, body, now_ms(), replace=False)
    return Redirect(f"/ui/apps/{action.app.app_id}/webhooks", status_code=303)


@get("/apps/{app_id:str}/webhooks/{webhook_id:str}", dependencies=READING)
async def deliveries_page(
    rtk: NamedDependency[AppState],
    reading: NamedDependency[PageReading],
    webhook_id: FromPath[str],
    page_no: Q = None,
) -> Response[str]:
    """A webhook's delivery log, newest first, with redeliver buttons."""
    _admin_only(reading)
    await reading.end()
    page = whole_number({"page_no": page_no or ""}, "page_no", 1, 1, 10**6)
    log = await webhooks.delivery_log(rtk.db, reading.app, webhook_id, page, DELIVERIES_PER_PAGE)
    return html(
        "deliveries.html",
        **_frame(reading, "webhooks"),
        hook=log.webhook,
        rows=log.attempts,
        total=log.total,
        page=page,
        per_page=DELIVERIES_PER_PAGE,
    )


@post(
    "/apps/{app_id:str}/webhooks/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver",
    dependencies=ACTION,
)
async def redeliver(
    rtk: NamedDependency[AppState],
    action: NamedDependency[Action],
    webhook_id: FromPath[str],
    delivery_id: FromPath[str],
) -> Response[Any]:
    await webhooks.redeliver(rtk.db, action.app, webhook_id, delivery_id, now_ms())
    return Redirect(f"/ui/apps/{action.app.app_id}/webhooks/{webhook_id}", status_code=303)


# --- errors ---------------------------------------------------------------------------------


def _signed_out(request: Request[Any, Any, Any]) -> Response[Any]:
    target = "/ui/sign-in?" + urlencode({"next": request.url.path})
    if is_partial(request):  # htmx follows this header instead of swapping a page in
        return Response("", status_code=200, headers={"hx-redirect": target})
    return Redirect(target, status_code=303)


def ui_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors as pages: a missing sign-in goes to the sign-in form; any other refusal shows
    its message (ours, never exception text); anything else is logged and named by id."""
    if isinstance(exc, Unauthorized):
        return _signed_out(request)
    if isinstance(exc, RtkError):
        return html("error.html", status=exc.status, status_code=exc.status, message=exc.message)
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        message = "No such page" if exc.status_code == 404 else str(exc.detail)
        return html(
            "error.html", status=exc.status_code, status_code=exc.status_code, message=message
        )
    message = logged_internal_error(request, exc)
    return html("error.html", status=500, status_code=500, message=message)


ui_router = Router(
    path="/ui",
    route_handlers=[
        sign_in_page,
        sign_in,
        sign_out,
        home,
        usage_page,
        sessions_page,
        session_page,
        summary_part,
        generate_summary,
        download,
        peer_page,
        webhooks_page,
        create_webhook,
        switch_webhook,
        deliveries_page,
        redeliver,
    ],
    exception_handlers={RtkError: ui_error, HTTPException: ui_error, Exception: ui_error},
    include_in_schema=False,
)
