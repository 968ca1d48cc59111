"""Summarize-on-end, as ingestion writes it: the summary request of an ended session with
transcript segments is written in the transaction that derived the end, for apps with the
setting only, once per change (a replay, a rebuild, a history import or unrelated later events
ask for nothing more; a late segment, a late join or the idle sweep's end ask again).

The requests are read from the `summaries` table right after each transaction: ingestion
only writes them (the summary pump enqueues them; e2e/test_summaries_on_end_sdk.py runs it all).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from rtk_sessions.auth.repo import ensure_app, set_summarize_on_end
from rtk_sessions.ingest import service as ingest
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.tables import sessions, summaries, webhook_outbox
from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.summaries.repo import ON_END, PROCESSING
from rtk_sessions.webhooks import service as webhooks
from rtk_sessions.webhooks.model import EVENTS

T0 = 1_767_607_200_000  # 2026-01-05T10:00:00.000Z
MIN = 60_000
Event = dict[str, Any]


def ev(eid: str, etype: str, meeting: str, minute: float, peer: str) -> Event:
    at = to_iso(T0 + int(minute * MIN))
    return {"id": eid, "type": etype, "meeting_id": meeting, "occurred_at": at, "peer_id": peer}


def joined(peer: str, meeting: str, minute: float) -> Event:
    return ev(f"j-{peer}", "peer.joined", meeting, minute, peer)


def left(peer: str, meeting: str, minute: float) -> Event:
    return ev(f"l-{peer}", "peer.left", meeting, minute, peer)


def segment(eid: str, peer: str, meeting: str, minute: float, partial: bool = False) -> Event:
    said = {"text": f"words of {eid}", "is_partial": partial}
    return {**ev(eid, "transcript.segment", meeting, minute, peer), **said}


def chat(eid: str, peer: str, meeting: str, minute: float) -> Event:
    body = {"message_id": eid, "payload": "hi"}
    return {**ev(eid, "chat.message", meeting, minute, peer), **body}


class World:
    def __init__(self, db: Database, app: AppRef) -> None:
        self.db = db
        self.app = app

    async def ingest(
        self, events: list[Event], now: int, notify: bool = True
    ) -> ingest.IngestResult:
        async with self.db.write() as conn:
            valid = ingest.check_batch(events, now)
            return await ingest.store(conn, self.app, valid, now, 0, notify)

    async def requests(self) -> dict[str, tuple[str, str, int]]:
        """meeting id -> (status, requested fingerprint, requested at) of its session."""
        s, m = sessions.c, summaries.c
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(s.meeting_id, m.status, m.requested_fingerprint, m.requested_at)
                .join(sessions, (s.app_pk == m.app_pk) & (s.id == m.session_id))
                .where(m.app_pk == self.app.pk)
            )
            return {r[0]: (r[1], r[2], r[3]) for r in rows}


async def world(db: Database, app_id: str, summarize: bool) -> World:
    async with db.write() as conn:
        pk = await ensure_app(conn, "acct-on-end", app_id, T0)
        await set_summarize_on_end(conn, pk, summarize, T0)
    return World(db, AppRef(pk, app_id))


def meeting(name: str, *, segments: bool = True, end: bool = True) -> list[Event]:
    out = [joined(f"{name}-a", name, 0), joined(f"{name}-b", name, 1)]
    if segments:
        out += [
            segment(f"{name}-s1", f"{name}-a", name, 2),
            segment(f"{name}-s2", f"{name}-b", name, 3),
        ]
    if end:
        out += [left(f"{name}-a", name, 10), left(f"{name}-b", name, 11)]
    return out


async def test_an_ended_session_with_segments_is_summarized_once(db: Database, app_id: str) -> None:
    w = await world(db, app_id, summarize=True)
    now = T0 + 60 * MIN
    await w.ingest(
        meeting("said") + meeting("silent", segments=False) + meeting("live", end=False), now
    )
    await w.ingest([segment("live-s3", "live-a", "live", 4, partial=True)], now)
    # Interim segments only: asked for too (the job reads the transcript and withdraws it).
    interim = [*meeting("interim", segments=False), segment("i-s", "interim-a", "interim", 2, True)]
    await w.ingest(interim, now)
    assert await w.requests() == {
        "said": (PROCESSING, ON_END, now),
        "interim": (PROCESSING, ON_END, now),
    }

    # The same events again, a rebuild, and later events that change nothing summarized:
    # no new request.
    replayed = await w.ingest(meeting("said"), now + 1_000)
    assert replayed.duplicates == len(meeting("said"))
    async with db.write() as conn:
        await ingest.rebuild_app(conn, w.app, 0)
    await w.ingest(
        [chat("said-c1", "said-a", "said", 5), chat("live-c1", "live-a", "live", 5)], now + 2_000
    )
    assert (await w.requests())["said"] == (PROCESSING, ON_END, now)


async def test_late_segments_joins_and_the_idle_sweep_ask_again(db: Database, app_id: str) -> None:
    w = await world(db, app_id, summarize=True)
    now = T0 + 60 * MIN
    await w.ingest(meeting("m"), now)
    assert (await w.requests())["m"][2] == now

    # A segment that arrives after the end: the transcript changed.
    await w.ingest([segment("m-s9", "m-b", "m", 9)], now + 1_000)
    assert (await w.requests())["m"][2] == now + 1_000

    # A segment of a speaker who never joined, placed by its time; then a late join.
    await w.ingest([segment("m-s8", "m-ghost", "m", 8)], now + 2_000)
    assert (await w.requests())["m"][2] == now + 2_000
    await w.ingest([joined("m-late", "m", 7), left("m-late", "m", 9)], now + 3_000)
    assert (await w.requests())["m"][2] == now + 3_000

    # A session the idle sweep ends (its peer never left) is summarized at that end.
    await w.ingest(meeting("idle", end=False), now + 4_000)
    assert "idle" not in await w.requests()
    sweep_at = now + 5_000
    async with db.write() as conn:
        closed = await ingest.sweep_meeting(conn, w.app, "idle", sweep_at, sweep_at, 0)
    assert closed == 2
    assert (await w.requests())["idle"] == (PROCESSING, ON_END, sweep_at)


async def test_apps_without_the_setting_are_not_summarized(db: Database, app_id: str) -> None:
    w = await world(db, app_id, summarize=False)
    await w.ingest(meeting("said"), T0 + 60 * MIN)
    assert await w.requests() == {}
    async with db.write() as conn:
        await set_summarize_on_end(conn, w.app.pk, True, T0 + 61 * MIN)
    # Turning it on later asks for nothing already ended; the next change does.
    await w.ingest([chat("said-c1", "said-a", "said", 5)], T0 + 61 * MIN)
    assert await w.requests() == {}
    await w.ingest([segment("said-s9", "said-a", "said", 9)], T0 + 62 * MIN)
    assert await w.requests() == {"said": (PROCESSING, ON_END, T0 + 62 * MIN)}


async def test_history_imports_ask_for_nothing(db: Database, app_id: str) -> None:
    """An import (`notify=False`) is history: its sessions ended long ago. A later change of
    such a session is new, and asks."""
    w = await world(db, app_id, summarize=True)
    hook = {"name": "bot", "url": "https://example.com/h", "events": list(EVENTS)}
    made = await webhooks.create_webhook(db, w.app, hook, T0)
    await w.ingest(meeting("old"), T0 + 60 * MIN, notify=False)
    assert await w.requests() == {}
    async with db.read() as conn:  # no webhook delivery owed either
        owed = await conn.scalar(select(func.count()).where(webhook_outbox.c.webhook_id == made.id))
    assert owed == 0
    await w.ingest([chat("old-c1", "old-a", "old", 5)], T0 + 61 * MIN)
    assert await w.requests() == {}
    await w.ingest([segment("old-s9", "old-b", "old", 9)], T0 + 62 * MIN)
    assert await w.requests() == {"old": (PROCESSING, ON_END, T0 + 62 * MIN)}
