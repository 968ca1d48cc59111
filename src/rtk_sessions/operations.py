"""Operator actions behind the CLI, each through the same services the API uses."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rtk_sessions.auth import repo as auth_repo
from rtk_sessions.auth import service as auth_service
from rtk_sessions.config import Settings
from rtk_sessions.ingest import service as ingest_service
from rtk_sessions.ingest.schemas import MAX_BATCH_EVENTS
from rtk_sessions.kit import jsontext
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.errors import BadRequest, RtkError
from rtk_sessions.kit.migrate import upgrade_async
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.sessions.derivation import AppRef

ALL_PERMISSIONS = ["read", "admin", "ingest"]


async def _open(settings: Settings) -> Database:
    await upgrade_async(settings.effective_database_url)
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


async def revoke_token(settings: Settings, token: str) -> None:
    db = await _open(settings)
    try:
        async with db.write() as conn:
            await auth_service.revoke_token(conn, token, now_ms())
    finally:
        await db.dispose()


def read_events_file(path: Path) -> list[Any]:
    """A JSON array, or one JSON event per line (blank lines ignored)."""
    data = path.read_bytes()
    if data.lstrip()[:1] == b"[":
        try:
            events: list[Any] = jsontext.decode(data)
        except jsontext.NotJson as exc:
            raise BadRequest(f"{path}: {exc}") from None
        return events
    out = []
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            try:
                out.append(jsontext.decode(line))
            except jsontext.NotJson as exc:
                raise BadRequest(f"{path}:{number}: {exc}") from None
    return out


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
) -> dict[str, int]:
    """Validate and store `events` batch by batch; each batch is one transaction."""
    size = max(1, min(batch_size, MAX_BATCH_EVENTS))
    totals = {"accepted": 0, "duplicates": 0, "pending": 0}
    columns = (TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("events", total=len(events))
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
            bar.advance(task, len(batch))
    return totals


async def ingest_file(
    settings: Settings, path: Path, account: str, app_id: str, batch_size: int
) -> dict[str, int]:
    db = await _open(settings)
    try:
        return await ingest_events(
            db, settings, account, app_id, read_events_file(path), batch_size
        )
    except RtkError as exc:
        details = "".join(f"\n  {d.get('message')}" for d in exc.details[:20])
        raise SystemExit(f"error: {exc.message}{details}") from exc
    finally:
        await db.dispose()


async def import_rtcstats_file(
    settings: Settings, path: Path, account: str, app_id: str, peer_id: str, meeting: str | None
) -> dict[str, int]:
    """`import-rtcstats`: the same parsing, validation and storage as the import route."""
    from rtk_sessions.ingest.rtcstats_import import import_dump

    data = path.read_bytes()
    db = await _open(settings)
    try:
        result = await import_dump(db, account, app_id, peer_id, meeting, data, now_ms(), settings)
    except RtkError as exc:
        raise SystemExit(f"error: {exc.message}") from exc
    finally:
        await db.dispose()
    return {"accepted": result.accepted, "duplicates": result.duplicates, "pending": result.pending}


async def rebuild_all(settings: Settings) -> int:
    db = await _open(settings)
    try:
        async with db.read() as conn:
            apps = await auth_repo.list_apps(conn)
        meetings = 0
        for pk, _, app_id in apps:
            async with db.write() as conn:
                meetings += await ingest_service.rebuild_app(
                    conn, AppRef(pk, app_id), settings.session_end_grace_ms
                )
        return meetings
    finally:
        await db.dispose()


async def _ingest_demo(
    db: Database, settings: Settings, account: str, app_id: str
) -> dict[str, int]:
    from rtk_sessions.demo import generate_demo_events

    return await ingest_events(db, settings, account, app_id, generate_demo_events(now_ms()), 2000)


async def load_demo(settings: Settings, account: str, app_id: str) -> dict[str, int]:
    db = await _open(settings)
    try:
        return await _ingest_demo(db, settings, account, app_id)
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


async def first_run(settings: Settings) -> None:
    """For `make run`: demo data into an empty database, then a fresh token and examples."""
    db = await _open(settings)
    try:
        async with db.read() as conn:
            empty = not await auth_repo.list_apps(conn)
        if empty:
            await _ingest_demo(db, settings, DEMO_ACCOUNT, DEMO_APP)
        async with db.write() as conn:
            token = await auth_service.create_token(
                conn,
                account_id=DEMO_ACCOUNT,
                app_id=None,
                permissions=ALL_PERMISSIONS,
                now=now_ms(),
                label="make run",
            )
    finally:
        await db.dispose()
    print(_banner(settings, token))


def _banner(settings: Settings, token: str) -> str:
    base = f"http://{settings.host}:{settings.port}"
    return f"""
rtk-sessions is starting on {base}

  API token   {token}
  account id  {DEMO_ACCOUNT}
  app id      {DEMO_APP}

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
"""
