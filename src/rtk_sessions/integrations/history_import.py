"""`rtk-sessions import realtimekit`: a RealtimeKit app's history read through the official
`cloudflare` SDK and stored through ingestion (docs/integrations.md, "History import").

A run lists the sessions of a time window, reads each new or changed one (participants with
their peer events, chat, transcript, summary, peer reports) and stores it: all events of one
session in one go, so a session that fails stores nothing and is tried again next run. A
checkpoint per (app, source) remembers what is done, so the next run reads only what is new,
changed, or was LIVE. Politeness: at most `concurrency` sessions at once, and every 429 is
retried after its Retry-After (the SDK does so for API calls; this module for downloads).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudflare
import httpx
import msgspec
from cloudflare import AsyncCloudflare

from rtk_sessions.auth.repo import ensure_app
from rtk_sessions.auth.service import check_ids
from rtk_sessions.chat import repo as chat_repo
from rtk_sessions.ingest import service as ingest_service
from rtk_sessions.ingest.schemas import MAX_BATCH_EVENTS
from rtk_sessions.ingest.validation import BatchRefused
from rtk_sessions.integrations import history
from rtk_sessions.integrations import repo as integrations_repo
from rtk_sessions.integrations.history import Event, SourceError, SourceSession
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.errors import RtkError
from rtk_sessions.kit.redact import redact, redacted_logger
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms, to_iso
from rtk_sessions.quality import repo as quality_repo
from rtk_sessions.summaries.service import store_imported_summary

log = redacted_logger("rtk_sessions.integrations.history")
# httpx names every URL it requests at INFO: signed download links must never reach a log.
logging.getLogger("httpx").setLevel(logging.WARNING)

SOURCE_KIND = "realtimekit-history"
PER_PAGE = 100  # the largest page both RealtimeKit and this server serve
MAX_PAGES = 10_000  # a source that never stops paging is cut here
API_RETRIES = 8  # the SDK retries 429 and 5xx, honouring Retry-After (up to 60 s)
DOWNLOAD_TRIES = 8
MAX_RETRY_AFTER_S = 60.0
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
CAPS = {"chat": 64 << 20, "transcript": 64 << 20, "summary": 4 << 20}
SAVE_EVERY = 20  # sessions between checkpoint writes (and one at the end)

Advance = Callable[[int], None]


class ImportAborted(Exception):
    """The run cannot go on at all (the source refuses the token, cannot be reached)."""

    def __init__(self, message: str, user_error: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.user_error = user_error


class DownloadFailed(Exception):
    pass


@dataclass(frozen=True)
class ImportRequest:
    account: str
    app: str
    from_account: str
    from_app: str
    since_ms: int
    until_ms: int | None
    base_url: str | None
    token: str
    concurrency: int = 4

    @property
    def source(self) -> str:
        """The checkpoint's name: the source API, account and app (no credentials)."""
        base = self.base_url or "cloudflare"
        return f"{SOURCE_KIND}:{base}:{self.from_account}:{self.from_app}"[:512]


@dataclass
class ImportTotals:
    listed: int = 0
    imported: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    events_accepted: int = 0
    events_duplicate: int = 0
    chat_messages: int = 0
    transcript_segments: int = 0
    summaries: int = 0
    peer_reports: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "listed": self.listed,
            "imported": self.imported,
            "skipped": self.skipped,
            "failed": len(self.failed),
            "events_accepted": self.events_accepted,
            "events_duplicate": self.events_duplicate,
            "chat_messages": self.chat_messages,
            "transcript_segments": self.transcript_segments,
            "summaries": self.summaries,
            "peer_reports": self.peer_reports,
        }


def _api_reason(what: str, exc: Exception) -> str:
    """Why a call failed, without URLs or credentials."""
    if isinstance(exc, cloudflare.APIStatusError):
        detail = ""
        body = exc.body
        if isinstance(body, Mapping):
            errors = body.get("errors") or [body.get("error")]
            first = errors[0] if isinstance(errors, list) and errors else None
            if isinstance(first, Mapping) and isinstance(first.get("message"), str):
                detail = ": " + redact(first["message"])[:200]
        return f"{what}: HTTP {exc.status_code}{detail}"
    if isinstance(exc, cloudflare.APITimeoutError):
        return f"{what}: timed out"
    if isinstance(exc, cloudflare.APIConnectionError):
        return f"{what}: could not connect"
    return f"{what}: {type(exc).__name__}"


class _Run:
    """One import run: the source client, the target state and app, the counts."""

    def __init__(
        self, state: AppState, req: ImportRequest, client: AsyncCloudflare, http: httpx.AsyncClient
    ) -> None:
        self.state = state
        self.req = req
        self.client = client
        self.http = http
        self.sessions = client.realtime_kit.sessions
        self.totals = ImportTotals()
        self.gate = asyncio.Semaphore(max(1, req.concurrency))
        self.app = AppRef(0, req.app)
        self.done: dict[str, str] = {}
        self.rooms: dict[str, str] = {}
        self.unsaved = 0

    # --- reading the source ---------------------------------------------------------------

    async def list_sessions(self, advance: Advance) -> list[SourceSession]:
        """Every session started in the window, oldest first, read page by page."""
        req, found, seen = self.req, [], set()
        window: dict[str, Any] = {"start_time": to_iso(req.since_ms)}
        if req.until_ms is not None:
            window["end_time"] = to_iso(req.until_ms)
        for page_no in range(1, MAX_PAGES + 1):
            try:
                page = await self.sessions.get_sessions(
                    req.from_app,
                    account_id=req.from_account,
                    page_no=page_no,
                    per_page=PER_PAGE,
                    sort_by="createdAt",
                    sort_order="ASC",
                    **window,
                )
            except (cloudflare.AuthenticationError, cloudflare.PermissionDeniedError) as exc:
                raise ImportAborted(
                    _api_reason("the source refused the token", exc)
                    + "; check CLOUDFLARE_API_TOKEN, --from-account and --from-app",
                    user_error=True,
                ) from None
            except cloudflare.APIError as exc:
                raise ImportAborted(_api_reason("listing the sessions failed", exc)) from None
            rows = (page.data.sessions if page.data else None) or []
            for row in rows:
                session = SourceSession.from_api(row.to_dict())
                if session.id not in seen:  # a session that moved between pages
                    seen.add(session.id)
                    found.append(session)
            advance(len(rows))
            total = page.paging.total_count if page.paging else None
            if len(rows) < PER_PAGE or (total is not None and page_no * PER_PAGE >= total):
                break
        return found

    async def details(self, session: SourceSession) -> dict[str, Any]:
        found = await self.sessions.get_session_details(
            session.id,
            include_breakout_rooms=True,
            account_id=self.req.from_account,
            app_id=self.req.from_app,
        )
        return found.data.to_dict() if found.data else {}

    async def participants(self, session: SourceSession) -> list[dict[str, Any]]:
        """The raw participants (one per peer) with their peer events, every page."""
        out: list[dict[str, Any]] = []
        for page_no in range(1, MAX_PAGES + 1):
            page = await self.sessions.get_session_participants(
                session.id,
                include_peer_events=True,
                view="raw",
                page_no=page_no,
                per_page=PER_PAGE,
                sort_by="joinedAt",
                sort_order="ASC",
                account_id=self.req.from_account,
                app_id=self.req.from_app,
            )
            rows = (page.data.participants if page.data else None) or []
            out += [row.to_dict() for row in rows]
            if len(rows) < PER_PAGE:
                break
        return out

    async def download(self, kind: str, url: str) -> bytes:
        """The file behind a link the source gave (never logged: links are signed), at most
        CAPS[kind] bytes; 429 and 5xx are retried after their Retry-After."""
        cap = CAPS[kind]
        for attempt in range(DOWNLOAD_TRIES):
            try:
                async with self.http.stream("GET", url) as resp:
                    if resp.status_code == 429 or resp.status_code >= 500:
                        await asyncio.sleep(_retry_after(resp.headers, attempt))
                        continue
                    if resp.status_code != 200:
                        raise DownloadFailed(f"{kind} download: HTTP {resp.status_code}")
                    chunks, size = [], 0
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > cap:
                            raise DownloadFailed(f"{kind} download: larger than {cap >> 20} MiB")
                        chunks.append(chunk)
                    return b"".join(chunks)
            except httpx.TimeoutException:
                reason = f"{kind} download: timed out"
            except httpx.HTTPError as exc:
                reason = f"{kind} download: {type(exc).__name__}"
            if attempt == DOWNLOAD_TRIES - 1:
                raise DownloadFailed(reason)
            await asyncio.sleep(_retry_after(httpx.Headers(), attempt))
        raise DownloadFailed(f"{kind} download: still refused after {DOWNLOAD_TRIES} tries")

    async def chat(self, session: SourceSession) -> list[history.ChatLine]:
        try:
            link = await self.sessions.get_session_chat(
                session.id, account_id=self.req.from_account, app_id=self.req.from_app
            )
        except cloudflare.NotFoundError:
            return []  # no chat messages
        if link.data is None:
            return []
        body = await self.download("chat", link.data.chat_download_url)
        return await asyncio.to_thread(history.chat_lines, body.decode("utf-8-sig"))

    async def transcript(self, session: SourceSession) -> list[Event]:
        try:
            link = await self.sessions.get_session_transcripts(
                session.id,
                format="JSON",
                account_id=self.req.from_account,
                app_id=self.req.from_app,
            )
        except cloudflare.NotFoundError:
            return []  # no transcript
        if link.data is None:
            return []
        body = await self.download("transcript", link.data.transcript_download_url)
        try:
            entries = await asyncio.to_thread(json.loads, body)
        except ValueError:
            raise SourceError("the JSON transcript is not JSON") from None
        return history.transcript_events(session, entries)

    async def summary(self, session: SourceSession) -> str | None:
        try:
            link = await self.sessions.get_session_summary(
                session.id, account_id=self.req.from_account, app_id=self.req.from_app
            )
        except cloudflare.NotFoundError:
            return None  # none made (or still being made)
        if link.data is None:
            return None
        return (await self.download("summary", link.data.summary_download_url)).decode("utf-8")

    async def peer_report(self, peer_id: str) -> dict[str, Any] | None:
        """The peer's report as served, JSON kept as it is (no model in between)."""
        try:
            raw = await self.sessions.with_raw_response.get_participant_data_from_peer_id(
                peer_id, account_id=self.req.from_account, app_id=self.req.from_app
            )
        except cloudflare.NotFoundError:
            return None
        body = json.loads(raw.http_response.content)
        participant = (body.get("data") or {}).get("participant") or {}
        report = participant.get("peer_report")
        return report if isinstance(report, dict) else None

    async def stored_chat(self, session_id: str) -> dict[str, history.ChatContent]:
        """What this server holds of the session's chat now (message id → content)."""
        found: dict[str, history.ChatContent] = {}
        async with self.state.db.read() as conn:
            dialect = conn.dialect.name
            async for part in chat_repo.stream_messages(conn, dialect, self.app.pk, session_id):
                for row in part:
                    body = msgspec.json.decode(row.body)
                    found[str(row.message_id)] = (
                        str(body.get("payload_type") or "TEXT_MESSAGE"),
                        str(body.get("payload") or ""),
                        bool(body.get("pinned", False)),
                        bool(body.get("is_edited", False)),
                    )
        return found

    # --- storing --------------------------------------------------------------------------

    async def ingest(self, events: list[Event]) -> tuple[int, int]:
        """All events of a session: checked whole first, so a refused one stores nothing."""
        now = now_ms()
        checked = [
            ingest_service.check_batch(events[i : i + MAX_BATCH_EVENTS], now)
            for i in range(0, len(events), MAX_BATCH_EVENTS)
        ]
        accepted = duplicates = 0
        for valid in checked:
            async with self.state.db.write() as conn:
                result = await ingest_service.accept(
                    conn,
                    self.req.account,
                    self.req.app,
                    valid,
                    now,
                    self.state.settings.session_end_grace_ms,
                    notify=False,  # history: no webhooks, no summaries on end
                )
            accepted += result.accepted
            duplicates += result.duplicates
        return accepted, duplicates

    async def import_session(self, session: SourceSession) -> None:
        """Read everything of one session, then store it."""
        parent = self.rooms.get(session.id)
        participants = await self.participants(session)
        events = history.session_events(session, participants, parent)
        lines = await self.chat(session)
        stored = await self.stored_chat(session.id) if lines else {}
        events += history.chat_events(session, lines, stored, now_ms())
        segments = await self.transcript(session)
        events += segments
        summary = await self.summary(session)
        reports = {}
        for participant in participants:
            report = await self.peer_report(str(participant["id"]))
            if report is not None:
                reports[str(participant["id"])] = msgspec.json.encode(report).decode()
        accepted, duplicates = await self.ingest(events)
        now = now_ms()
        if summary is not None:
            await store_imported_summary(
                self.state, self.app, session.id, summary, now, notify=False
            )
        async with self.state.db.write() as conn:
            for peer_id, report_json in reports.items():
                await quality_repo.store_imported_report(
                    conn, self.app.pk, peer_id, report_json, now
                )
        t = self.totals
        t.events_accepted += accepted
        t.events_duplicate += duplicates
        t.chat_messages += len(lines)
        t.transcript_segments += len(segments)
        t.summaries += summary is not None
        t.peer_reports += len(reports)

    async def guarded(self, what: str, session: SourceSession, work: Any) -> bool:
        """Run one session's step; a failure is counted and named, never raised."""
        async with self.gate:
            try:
                await work
                return True
            except SourceError as exc:
                reason = str(exc)
            except BatchRefused as exc:
                first = exc.details[0].get("message") if exc.details else ""
                reason = f"refused by ingestion: {exc.message} ({first})"
            except RtkError as exc:
                reason = exc.message
            except DownloadFailed as exc:
                reason = str(exc)
            except cloudflare.APIError as exc:
                reason = _api_reason(what, exc)
            except (UnicodeError, ValueError) as exc:
                reason = f"{what}: unreadable data ({type(exc).__name__})"
        self.totals.failed[session.id] = redact(reason)[:300]
        log.info("session %s not imported: %s", session.id, self.totals.failed[session.id])
        return False

    async def save(self, force: bool = False) -> None:
        self.unsaved += 1
        if not force and self.unsaved < SAVE_EVERY:
            return
        self.unsaved = 0
        state = {"sessions": self.done, "rooms": self.rooms}
        async with self.state.db.write() as conn:
            await integrations_repo.set_checkpoint(
                conn, self.app.pk, self.req.source, state, now_ms()
            )

    async def run(self, progress: Any) -> ImportTotals:
        req = self.req
        async with self.state.db.write() as conn:
            pk = await ensure_app(conn, req.account, req.app, now_ms())
            saved = await integrations_repo.get_checkpoint(conn, pk, req.source) or {}
        self.app = AppRef(pk, req.app)
        self.done = {str(k): str(v) for k, v in (saved.get("sessions") or {}).items()}
        self.rooms = {str(k): str(v) for k, v in (saved.get("rooms") or {}).items()}
        with progress("listing sessions", None) as advance:
            listed = await self.list_sessions(advance)
        todo = [s for s in listed if history.wants_import(s, self.done)]
        self.totals.listed = len(listed)
        self.totals.skipped = len(listed) - len(todo)

        read: dict[str, bool] = {}

        async def read_rooms(session: SourceSession, advance: Advance) -> None:
            async def work() -> None:
                details = await self.details(session)
                self.rooms.update(history.breakout_parents(session, details))

            read[session.id] = await self.guarded("reading the session", session, work())
            advance(1)

        with progress("reading sessions", len(todo)) as advance:
            await asyncio.gather(*(read_rooms(s, advance) for s in todo))

        async def one(session: SourceSession, advance: Advance) -> None:
            if read[session.id] and await self.guarded(
                "importing the session", session, self.import_session(session)
            ):
                self.done[session.id] = session.mark
                self.totals.imported += 1
                await self.save()
            advance(1)

        with progress("importing sessions", len(todo)) as advance:
            await asyncio.gather(*(one(s, advance) for s in todo))
        await self.save(force=True)
        return self.totals


def _retry_after(headers: httpx.Headers, attempt: int) -> float:
    """Seconds to wait: the server's Retry-After when it gives one (capped), else a backoff."""
    value = headers.get("retry-after")
    if value is not None:
        try:
            return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
        except ValueError:
            pass
    return float(min(0.5 * 2**attempt, 8.0))


def source_client(req: ImportRequest) -> AsyncCloudflare:
    """The official SDK, retrying 429s (and 5xx) after their Retry-After."""
    options: dict[str, Any] = {"api_token": req.token, "max_retries": API_RETRIES}
    if req.base_url:
        options["base_url"] = req.base_url
    return AsyncCloudflare(timeout=TIMEOUT, **options)


async def import_realtimekit(state: AppState, req: ImportRequest, progress: Any) -> ImportTotals:
    """Run one import into `req.account`/`req.app` of this server's database."""
    check_ids(account_id=req.account, app_id=req.app)
    client = source_client(req)
    limits = httpx.Limits(max_connections=max(1, req.concurrency) * 2)
    async with (
        client,
        httpx.AsyncClient(timeout=TIMEOUT, limits=limits, follow_redirects=True) as http,
    ):
        return await _Run(state, req, client, http).run(progress)
