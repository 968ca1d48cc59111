"""Operator actions behind the CLI, each through the same services the API uses."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from sqlalchemy.engine import make_url

from rtk_sessions.auth import repo as auth_repo
from rtk_sessions.auth import service as auth_service
from rtk_sessions.auth.tokens import split_token
from rtk_sessions.cli import event_files
from rtk_sessions.config import Settings
from rtk_sessions.ingest import service as ingest_service
from rtk_sessions.ingest.schemas import MAX_BATCH_EVENTS
from rtk_sessions.integrations import repo as integrations_repo
from rtk_sessions.integrations import settings as integration_settings
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.errors import BadRequest, NotFound, Unauthorized
from rtk_sessions.kit.migrate import upgrade_async
from rtk_sessions.kit.timeutil import now_ms, to_iso

ALL_PERMISSIONS = ["read", "admin", "ingest"]
Advance = Callable[[int], None]
Progress = Callable[[str, int | None], AbstractContextManager[Advance]]


def _nothing(_: int) -> None:
    pass


@contextmanager
def no_progress(_label: str, _total: int | None) -> Iterator[Advance]:
    yield _nothing


class DatabaseUnusable(Exception):
    """The database cannot be opened or migrated: a setting to fix, not a bug."""


async def migrate(settings: Settings) -> None:
    """Bring the schema up to date: every command's first touch of the database."""
    url = settings.effective_database_url
    try:
        await upgrade_async(url)
    except (OSError, sqlalchemy.exc.DBAPIError) as exc:
        cause = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        password = make_url(url).password
        if password:
            reason = reason.replace(str(password), "***")
        raise DatabaseUnusable(reason) from exc


async def _open(settings: Settings) -> Database:
    await migrate(settings)
    return Database(settings.effective_database_url)


async def create_token(
    settings: Settings, account: str, app_id: str | None, permissions: list[str], label: str | None
) -> str:
    db = await _open(settings)
    try:
        async with db.write() as conn:
            return await auth_service.create_token(
                conn,
                account_id=account,
                app_id=app_id,
                permissions=permissions,
                now=now_ms(),
                label=label,
            )
    finally:
        await db.dispose()


async def rtcstats_token(
    settings: Settings, account: str, app_id: str, meeting: str, peer: str, user: str | None,
    ttl: int,
) -> str:  # fmt: skip
    from rtk_sessions.collector.identity import checked_who
    from rtk_sessions.collector.service import mint_stream_token

    who = checked_who(meeting, peer, user)
    if who is None:
        raise BadRequest("--meeting and --peer must be 1–128 of A-Z a-z 0-9 . _ : -")
    db = await _open(settings)
    try:
        max_ttl = int(settings.rtcstats_jwt_max_ttl)
        token, _ = await mint_stream_token(db, account, app_id, who, ttl, max_ttl)
        return token
    finally:
        await db.dispose()


async def rotate_rtcstats_secret(settings: Settings, account: str, app_id: str) -> None:
    from rtk_sessions.collector.service import rotate_secret

    db = await _open(settings)
    try:
        await rotate_secret(db, account, app_id)
    finally:
        await db.dispose()


async def revoke_token(settings: Settings, token: str) -> None:
    db = await _open(settings)
    try:
        async with db.write() as conn:
            await auth_service.revoke_token(conn, token, now_ms())
    except NotFound:
        token_id = (split_token(token) or (token, ""))[0]
        async with db.read() as conn:
            stored = await auth_repo.get_token(conn, token_id)
        if stored is None or stored.revoked_at is None:
            raise
        raise BadRequest(
            f"token {token_id} was already revoked at {to_iso(stored.revoked_at)}; "
            "`rtk-sessions token list` shows the active ones"
        ) from None
    finally:
        await db.dispose()


async def list_tokens(settings: Settings, include_revoked: bool) -> list[auth_repo.TokenInfo]:
    db = await _open(settings)
    try:
        async with db.read() as conn:
            return await auth_service.list_tokens(conn, include_revoked=include_revoked)
    finally:
        await db.dispose()


async def set_realtimekit(
    settings: Settings, account: str, app_id: str, pem: str | None, url: str | None
) -> None:
    db = await _open(settings)
    try:
        async with db.write() as conn:
            await integration_settings.set_realtimekit(
                conn, account, app_id, now_ms(), pem=pem, url=url
            )
    finally:
        await db.dispose()


async def set_livekit(
    settings: Settings, account: str, app_id: str, api_key: str, api_secret: str
) -> None:
    db = await _open(settings)
    try:
        async with db.write() as conn:
            await integration_settings.set_livekit(
                conn, account, app_id, api_key, api_secret, now_ms()
            )
    finally:
        await db.dispose()


async def set_app(settings: Settings, account: str, app_id: str, summarize_on_end: bool) -> None:
    """Change an app's settings, creating the app if missing."""
    db = await _open(settings)
    try:
        async with db.write() as conn:
            pk = await auth_repo.ensure_app(conn, account, app_id, now_ms())
            await auth_repo.set_summarize_on_end(conn, pk, summarize_on_end, now_ms())
    finally:
        await db.dispose()


async def apps_with_integrations(
    settings: Settings,
) -> list[tuple[str, str, list[str], bool]]:
    """(account, app, webhook providers set up, summarizes on end) of every app."""
    db = await _open(settings)
    try:
        async with db.read() as conn:
            providers = await integrations_repo.providers_of_apps(conn)
            summarizing = await auth_repo.apps_summarizing_on_end(conn)
            apps = await auth_repo.list_apps(conn)
    finally:
        await db.dispose()
    return [(account, app, providers.get(pk, []), pk in summarizing) for pk, account, app in apps]


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def ingest_events(
    db: Database,
    settings: Settings,
    account: str,
    app_id: str,
    events: Sequence[Any],
    batch_size: int,
    advance: Advance = _nothing,
) -> dict[str, int]:
    """Validate and store `events` batch by batch; each batch is one transaction."""
    size = max(1, min(batch_size, MAX_BATCH_EVENTS))
    totals = {"accepted": 0, "duplicates": 0, "pending": 0}
    for batch in batches(events, size):
        now = now_ms()
        valid = ingest_service.check_batch(list(batch), now)
        async with db.write() as conn:
            result = await ingest_service.accept(
                conn, account, app_id, valid, now, settings.session_end_grace_ms
            )
        totals["accepted"] += result.accepted
        totals["duplicates"] += result.duplicates
        totals["pending"] = result.pending
        advance(len(batch))
    return totals


async def ingest_file(
    settings: Settings,
    path: Path,
    account: str,
    app_id: str,
    batch_size: int,
    progress: Progress = no_progress,
) -> dict[str, int]:
    """Check the whole file, then store it: two passes, bounded memory (event_files)."""
    auth_service.check_ids(account_id=account, app_id=app_id)
    size = event_files.batch_size(batch_size)
    now = now_ms()
    with progress("checking", None) as advance:
        check = await asyncio.to_thread(event_files.check_file, path, size, now, advance)
    if check.invalid:
        noun = "event" if check.invalid == 1 else "events"
        more = check.invalid - check.shown
        tail = [f"… and problems in {more} more events"] if more > 0 else []
        raise BadRequest(
            f"{check.invalid} invalid {noun} in {path}; nothing was stored",
            details=[{"message": p} for p in [*check.problems, *tail]],
        )
    db = await _open(settings)
    try:
        with progress("storing", check.events) as advance:
            return await event_files.store_file(
                db, settings, account, app_id, path, size, now, advance
            )
    finally:
        await db.dispose()


async def import_rtcstats_file(
    settings: Settings,
    path: Path,
    account: str,
    app_id: str,
    peer_id: str,
    meeting: str | None,
    progress: Progress = no_progress,
) -> dict[str, int]:
    """`import-rtcstats`: the same parsing, validation and storage as the import route."""
    from rtk_sessions.ingest.rtcstats_import import import_dump

    data = path.read_bytes()
    db = await _open(settings)
    try:
        with progress("importing", None):
            result = await import_dump(
                db, account, app_id, peer_id, meeting, data, now_ms(), settings
            )
    except BadRequest as exc:
        # The route's wording names its query parameter; on the command line it is --meeting.
        exc.message = exc.message.replace("?meeting_id=…", "--meeting MEETING")
        raise
    finally:
        await db.dispose()
    return {"accepted": result.accepted, "duplicates": result.duplicates, "pending": result.pending,
            "skipped_lines": result.skipped_lines}  # fmt: skip


async def rebuild_all(settings: Settings, progress: Progress = no_progress) -> int:
    db = await _open(settings)
    try:
        async with db.read() as conn:
            apps = await auth_repo.list_apps(conn)
        meetings = 0
        with progress("rebuilding apps", len(apps)) as advance:
            for pk, _, app_id in apps:
                async with db.write() as conn:
                    meetings += await ingest_service.rebuild_app(
                        conn, AppRef(pk, app_id), settings.session_end_grace_ms
                    )
                advance(1)
        return meetings
    finally:
        await db.dispose()


async def _ingest_demo(
    db: Database, settings: Settings, account: str, app_id: str, progress: Progress
) -> dict[str, int]:
    from rtk_sessions.demo.events import generate_demo_events

    events = generate_demo_events(now_ms())
    with progress("loading demo data", len(events)) as advance:
        return await ingest_events(db, settings, account, app_id, events, 2000, advance)


async def load_demo(
    settings: Settings, account: str, app_id: str, progress: Progress = no_progress
) -> dict[str, int]:
    db = await _open(settings)
    try:
        return await _ingest_demo(db, settings, account, app_id, progress)
    finally:
        await db.dispose()


async def pending_report(settings: Settings, account: str, app_id: str, limit: int) -> list[str]:
    db = await _open(settings)
    try:
        async with db.read() as conn:
            await auth_service.resolve_app(conn, account, app_id)
            rows, total = await ingest_service.list_pending(
                conn, account, app_id, now_ms(), settings.pending_max_age_ms, limit, 0
            )
    finally:
        await db.dispose()
    lines = [f"{total} pending events"]
    lines += [f"{r.id}\t{r.type}\t{'ORPHANED ' if r.orphaned else ''}{r.reason}" for r in rows]
    return lines


DEMO_ACCOUNT = "demo-account"
DEMO_APP = "demo-app"
DEMO_TOKEN_FILE = "demo-token"  # in the data dir, mode 0600 (README, "Run it")


async def first_run(settings: Settings, progress: Progress = no_progress) -> str:
    """For `make run`: demo data into an empty database, and the demo token; returns the
    banner. The token is kept in the data dir and reused while it is valid in this database,
    so restarting does not mint a new token each time."""
    db = await _open(settings)
    try:
        async with db.read() as conn:
            empty = not await auth_repo.list_apps(conn)
        if empty:
            await _ingest_demo(db, settings, DEMO_ACCOUNT, DEMO_APP, progress)
        token = await _demo_token(db, settings.data_dir / DEMO_TOKEN_FILE)
    finally:
        await db.dispose()
    return _banner(settings, token)


async def _demo_token(db: Database, path: Path) -> str:
    """The saved demo token if this database still accepts it, else a new one, saved."""
    saved = path.read_text().strip() if path.is_file() else ""
    if saved:
        try:
            async with db.read() as conn:
                creds = auth_service.Credentials(f"Bearer {saved}", has_legacy_headers=False)
                await auth_service.authenticate(conn, creds)
            return saved
        except Unauthorized:
            pass  # revoked, or a different database: mint one
    async with db.write() as conn:
        token = await auth_service.create_token(
            conn,
            account_id=DEMO_ACCOUNT,
            app_id=None,
            permissions=ALL_PERMISSIONS,
            now=now_ms(),
            label="make run",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    path.chmod(0o600)
    return token


def _banner(settings: Settings, token: str) -> str:
    base = f"http://{settings.host}:{settings.port}"
    if settings.on_loopback:  # the token rides in the link only on this machine
        dashboard = f"{base}/ui/sign-in#token={token}   (opens signed in)"
    else:
        dashboard = f"{base}/ui/   (sign in with the token above)"
    return f"""
rtk-sessions is starting on {base}

  API token   {token}
  account id  {DEMO_ACCOUNT}
  app id      {DEMO_APP}
  dashboard   {dashboard}

Official SDK (pip install cloudflare==5.9.0):

  from cloudflare import Cloudflare
  client = Cloudflare(api_token="{token}", base_url="{base}/client/v4")
  page = client.realtime_kit.sessions.get_sessions("{DEMO_APP}", account_id="{DEMO_ACCOUNT}", per_page=5)
  for s in page.data.sessions: print(s.id, s.status, s.meeting_display_name, s.minutes_consumed)
  sid = page.data.sessions[0].id
  print(client.realtime_kit.sessions.get_session_transcripts(sid, account_id="{DEMO_ACCOUNT}", app_id="{DEMO_APP}", format="VTT"))

curl:

  curl -H "Authorization: Bearer {token}" \\
    "{base}/client/v4/accounts/{DEMO_ACCOUNT}/realtime/kit/{DEMO_APP}/sessions?per_page=5&status=LIVE"

The CLI: .venv/bin/rtk-sessions --help (or `source .venv/bin/activate`). The token above is
kept in {settings.data_dir / DEMO_TOKEN_FILE} and reused on the next run.
"""
