"""Every statement the ingest path runs is an index lookup whose cost does not grow with the
app's history (docs/ingestion.md): each statement of a realistic batch (late
joins in old meetings, a breakout room, unknown chat senders, a meeting end, a peer moving to
an earlier join) and of the idle sweep is collected with a cursor listener and explained.

On SQLite no plan line may read a whole table (`SCAN events`, also `SCAN ... USING INDEX`) or
every row of the app (`SEARCH ... (app_pk=?)`). PostgreSQL plans by statistics, and on a test
database this small it rightly prefers reading the app's few rows: there every statement must
have an index path (no sequential scan once those are priced out); the plans at 100,000
sessions are checked by bench/ingest_scaling.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select

from rtk_sessions.auth.repo import ensure_app, set_summarize_on_end
from rtk_sessions.ingest import repo as events_repo
from rtk_sessions.ingest import service as ingest
from rtk_sessions.ingest.schemas import Placement
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.ids import session_id as make_session_id
from rtk_sessions.kit.plans import plan, recorded, whole_reads
from rtk_sessions.kit.tables import events
from rtk_sessions.kit.timeutil import to_iso

T0 = 1_767_607_200_000  # 2026-01-05T10:00:00.000Z
MIN = 60_000
NOW = T0 + 24 * 60 * MIN
Event = dict[str, Any]


def ev(eid: str, etype: str, meeting: str, at: int) -> Event:
    return {"id": eid, "type": etype, "meeting_id": meeting, "occurred_at": to_iso(T0 + at)}


def joined(peer: str, meeting: str, at: int, **extra: Any) -> Event:
    return {**ev(f"j-{peer}-{at}", "peer.joined", meeting, at), "peer_id": peer, **extra}


def left(peer: str, meeting: str, at: int) -> Event:
    return {**ev(f"l-{peer}-{at}", "peer.left", meeting, at), "peer_id": peer}


def chat(eid: str, peer: str, meeting: str, at: int) -> Event:
    body = {"peer_id": peer, "message_id": eid, "payload": "hi"}
    return {**ev(eid, "chat.message", meeting, at), **body}


def history() -> list[Event]:
    """Forty meetings of two sessions each, one in five with a breakout room."""
    out: list[Event] = []
    for m in range(40):
        meeting, room = f"m{m}", f"m{m}-room"
        for s, start in enumerate((0, 120)):
            at = start + m
            out += [joined(f"p{m}-{s}a", meeting, at), joined(f"p{m}-{s}b", meeting, at + 1)]
            out += [left(f"p{m}-{s}a", meeting, at + 30), left(f"p{m}-{s}b", meeting, at + 31)]
            out.append(chat(f"c{m}-{s}", f"p{m}-{s}a", meeting, at + 5))
        if m % 5 == 0:
            out += [
                joined(f"r{m}", room, m + 10, parent_meeting_id=meeting),
                left(f"r{m}", room, 40),
            ]
    return out


def batch() -> list[Event]:
    """New meetings and late events for old ones, the kinds that take each derivation path."""
    return [
        joined("late", "m3", 10),  # a late join in an old session
        left("late", "m3", 20),
        joined("room-new", "m7-room", 130, parent_meeting_id="m7"),  # a new breakout room
        joined("p9-1a", "m8", 100),  # an earlier join elsewhere: the peer moves to m8
        chat("ghost-1", "ghost", "m4", 10),  # unknown sender: placed by time
        {**ev("seg-1", "transcript.segment", "m5", 12), "peer_id": "ghost", "text": "hello"},
        {**ev("end-6", "meeting.ended", "m6", 150)},
        {**ev("title-2", "meeting.updated", "m2", 1), "title": "Renamed"},
        left("nobody", "m1", 50),  # a leave before any join: pending
        joined("n1", "new-1", 200),
        joined("n2", "new-1", 201),
        chat("new-chat", "n1", "new-1", 202),
        joined("open", "new-2", 300),  # still connected: the sweep closes it
    ]


async def test_every_ingest_statement_is_an_index_lookup(db: Database, app_id: str) -> None:
    grace = 0
    async with db.write() as conn:
        pk = await ensure_app(conn, "acct-plans", app_id, NOW)
        await set_summarize_on_end(conn, pk, True, T0)  # its statements are explained too
    app = AppRef(pk, app_id)
    for start in range(0, len(history()), 100):
        async with db.write() as conn:
            valid = ingest.check_batch(history()[start : start + 100], NOW)
            await ingest.store(conn, app, valid, NOW, grace)
    if not db.is_sqlite:  # what autovacuum does after a load
        async with db.write() as conn:
            await conn.exec_driver_sql("ANALYZE events, meetings, sessions, peers")
    with recorded(db) as seen:
        async with db.write() as conn:
            result = await ingest.store(conn, app, ingest.check_batch(batch(), NOW), NOW, grace)
        async with db.read() as conn:
            idle = await events_repo.idle_meetings(conn, NOW + 1)
        assert (app.pk, "new-2") in idle
        async with db.write() as conn:
            closed = await ingest.sweep_meeting(conn, app, "new-2", NOW + 2, NOW + 1, grace)
    assert (result.accepted, closed) == (len(batch()), 1)
    assert len(seen) > 20
    for statement, params in seen:
        lines = await plan(db, statement, params, seq_scans=db.is_sqlite)
        wrong = whole_reads(lines, db.dialect, by_app=db.is_sqlite)
        assert not wrong, f"{statement}\n" + "\n".join(lines)


def _rows_written(db: Database) -> Any:
    """A listener tallying (statement's first three words) -> rows sent, all parameter sets."""
    tally: dict[str, int] = {}

    def listener(_c: Any, _cur: Any, statement: str, params: Any, _x: Any, many: bool) -> None:
        key = " ".join(statement.split()[:3]).upper()
        tally[key] = tally.get(key, 0) + (len(params) if many else 1)

    return tally, listener


async def test_events_of_peers_with_a_session_are_stored_placed(db: Database, app_id: str) -> None:
    """A batch of chat from peers that have a session is stored in that session: the insert
    and a few lookups, no placement update, no session rewritten; and a late join in one
    session of a meeting rewrites that session, not the meeting's history."""
    async with db.write() as conn:
        pk = await ensure_app(conn, "acct-plans", app_id, NOW)
    app = AppRef(pk, app_id)
    async with db.write() as conn:
        await ingest.store(conn, app, ingest.check_batch(history(), NOW), NOW, 0)
    lines = [chat(f"x{m}", f"p{m}-0a", f"m{m}", m + 6) for m in range(10)]
    with recorded(db) as seen:
        async with db.write() as conn:
            result = await ingest.store(conn, app, ingest.check_batch(lines, NOW), NOW, 0)
    assert (result.accepted, result.pending) == (10, 0)
    writes = [" ".join(s.split()[:3]) for s, _ in seen if not s.lstrip().startswith("SELECT")]
    assert writes == ["INSERT INTO events", "INSERT INTO meetings"]
    async with db.read() as conn:
        placed = await conn.execute(
            select(events.c.session_id, events.c.placement).where(
                events.c.app_pk == pk, events.c.id == "x3"
            )
        )
        assert [tuple(r) for r in placed] == [
            (make_session_id(app_id, "m3", "p3-0a"), Placement.BY_PEER)
        ]
    tally, listener = _rows_written(db)
    sa_event.listen(db.writer.sync_engine, "before_cursor_execute", listener)
    try:
        async with db.write() as conn:
            late = ingest.check_batch([joined("z", "m3", 125)], NOW)  # in m3's second session
            await ingest.store(conn, app, late, NOW, 0)
    finally:
        sa_event.remove(db.writer.sync_engine, "before_cursor_execute", listener)
    assert (tally.get("INSERT INTO SESSIONS"), tally.get("INSERT INTO PEERS")) == (1, 1), tally
