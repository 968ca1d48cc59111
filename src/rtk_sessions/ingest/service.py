"""Ingestion: validate all or nothing, store new events, re-derive what they touch.

The caller owns the transaction: a batch's events and everything derived from them commit
together, so a 200 means durable and consistent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.auth.repo import ensure_app, get_app_pk
from rtk_sessions.auth.service import check_ids
from rtk_sessions.ingest import repo
from rtk_sessions.ingest.repo import StoredEvent
from rtk_sessions.ingest.schemas import (
    LIFECYCLE_TYPES,
    TIME_PLACED_TYPES,
    VALID_EVENTS,
    ValidEvent,
)
from rtk_sessions.ingest.validation import BatchRefused, read_batch
from rtk_sessions.ingest.validation import check_batch as check_batch  # callers' entry point
from rtk_sessions.kit import cpu, metrics
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.quality.repo import TELEMETRY
from rtk_sessions.quality.service import enqueue_reports
from rtk_sessions.sessions.derivation import place_meetings_by_time, rederive
from rtk_sessions.sessions.derived_repo import clear_derived
from rtk_sessions.sessions.repo import open_peers_of_meeting
from rtk_sessions.summaries.service import owe_summaries_on_end
from rtk_sessions.transcripts.repo import SEGMENT


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    pending: int


async def read_valid_batch(
    body: bytes, content_type: str | None, content_encoding: str | None, now: int
) -> list[ValidEvent]:
    """A request body's events, inflated, decoded and validated in a worker process
    (kit/cpu.py, docs/adr/0004-cpu-work-off-the-event-loop.md); a refused batch is counted."""
    try:
        return await cpu.run_list(
            cpu.REQUESTS, VALID_EVENTS, read_batch, body, content_type, content_encoding, now
        )
    except BatchRefused as exc:
        metrics.events_refused(exc.events)
        raise


def _first_of_each_id(valid: Sequence[ValidEvent]) -> list[ValidEvent]:
    """A repeat of an id within the batch is a duplicate: the first occurrence counts."""
    seen: set[str] = set()
    first = []
    for event in valid:
        if event.id not in seen:
            seen.add(event.id)
            first.append(event)
    return first


async def store(
    conn: AsyncConnection,
    app: AppRef,
    valid: Sequence[ValidEvent],
    now: int,
    grace_ms: int,
    notify: bool = True,
) -> IngestResult:
    """Store what is new, derive what it touches, and report the counts. `notify=False`
    (history imports) owes neither webhook deliveries nor summaries on end."""
    await repo.lock_app(conn, app.pk)
    candidates = _first_of_each_id(valid)
    inserted = await repo.insert_new_events(conn, app.pk, candidates, now)
    new = [e for e in candidates if e.id in inserted]
    await repo.touch_meetings(conn, app.pk, (e.meeting_id for e in new), now)
    written = await _derive(conn, app, new, grace_ms, notify)
    if notify:
        segments = [e.id for e in new if e.type == SEGMENT]
        await owe_summaries_on_end(conn, app, written, segments, now)
    return IngestResult(len(new), len(valid) - len(new), await repo.count_pending(conn, app.pk))


async def accept(
    conn: AsyncConnection,
    account_id: str,
    app_id: str,
    valid: Sequence[ValidEvent],
    now: int,
    grace_ms: int,
    notify: bool = True,
) -> IngestResult:
    """Store a validated batch for an app, creating the app on its first events."""
    check_ids(account_id=account_id, app_id=app_id)
    pk = await ensure_app(conn, account_id, app_id, now)
    result = await store(conn, AppRef(pk, app_id), valid, now, grace_ms, notify)
    metrics.events_stored(result.accepted, result.duplicates)
    return result


async def accept_batch(
    state: AppState, account_id: str, app_id: str, valid: Sequence[ValidEvent], now: int
) -> IngestResult:
    """Store a validated batch in a transaction of its own (durable on return), then queue
    the peer reports its telemetry changed."""
    async with state.db.write() as conn:
        result = await accept(
            conn, account_id, app_id, valid, now, state.settings.session_end_grace_ms
        )
    peers = sorted({e.peer_id for e in valid if e.type in TELEMETRY and e.peer_id})
    await enqueue_reports(state, account_id, app_id, peers)
    return result


async def _derive(
    conn: AsyncConnection, app: AppRef, new: Sequence[ValidEvent], grace_ms: int, notify: bool
) -> set[str]:
    """Derive what the batch's lifecycle events change; returns the sessions written."""
    lifecycle = [e for e in new if e.type in LIFECYCLE_TYPES]
    meetings = {e.meeting_id for e in lifecycle}
    joined = sorted({e.peer_id for e in lifecycle if e.type == "peer.joined" and e.peer_id})
    left = sorted({e.peer_id for e in lifecycle if e.type == "peer.left" and e.peer_id})
    meetings |= await repo.join_meetings_of_peers(conn, app.pk, joined + left)
    written = await rederive(conn, app, meetings, grace_ms, notify)
    # Events that cannot change sessions only need a place of their own. A peer's events are
    # in its session whenever it has one: those of peers with a session were stored placed,
    # and a peer that got its session in this batch was placed by `rederive`. The rest wait
    # for their peer, or are placed by time.
    others = [e for e in new if e.type not in LIFECYCLE_TYPES]
    await place_meetings_by_time(conn, app, sorted({e.meeting_id for e in others} - meetings))
    return written


# --- idle sweep -------------------------------------------------------------------------


def inferred_leave(peer_id: str, meeting_id: str, at: int) -> ValidEvent:
    """The stored synthetic `peer.left` the sweep writes; a real leave later replaces it."""
    event_id = f"inferred-leave:{uuid.uuid5(uuid.NAMESPACE_OID, peer_id).hex}"
    raw = {
        "id": event_id,
        "type": "peer.left",
        "meeting_id": meeting_id,
        "peer_id": peer_id,
        "occurred_at": to_iso(at),
        "reason": "IDLE_TIMEOUT",
        "inferred": True,
    }
    return ValidEvent(event_id, "peer.left", meeting_id, at, at, peer_id, raw)


async def sweep_meeting(
    conn: AsyncConnection, app: AppRef, meeting_id: str, now: int, cutoff: int, grace_ms: int
) -> int:
    """Close the idle meeting's open peers at their own last event; returns how many.

    Idleness is checked again here, inside the write transaction, because an event may have
    arrived since the sweep looked.
    """
    await repo.lock_app(conn, app.pk)
    if not await repo.meeting_idle_since(conn, app.pk, meeting_id, cutoff):
        return 0
    open_peers = [peer for peer, _ in await open_peers_of_meeting(conn, app.pk, meeting_id)]
    last = await repo.last_event_at_of_peers(conn, app.pk, open_peers)
    leaves = [inferred_leave(p, meeting_id, last[p]) for p in sorted(open_peers) if p in last]
    inserted = await repo.insert_new_events(conn, app.pk, leaves, now, inferred=True)
    written = await rederive(conn, app, {meeting_id}, grace_ms)
    await owe_summaries_on_end(conn, app, written, (), now)
    return len(inserted)


async def rebuild_app(conn: AsyncConnection, app: AppRef, grace_ms: int) -> int:
    """Forget everything derived and derive it again from the stored events."""
    await repo.lock_app(conn, app.pk)
    await clear_derived(conn, app.pk)
    await repo.reset_placements(conn, app.pk)
    meetings = await repo.all_meetings(conn, app.pk)
    await rederive(conn, app, meetings, grace_ms, notify=False)  # sends no webhooks
    return len(meetings)


# --- pending ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingEvent:
    id: str
    type: str
    meeting_id: str
    peer_id: str | None
    occurred_at: int
    received_at: int
    reason: str
    orphaned: bool


def pending_reason(event: StoredEvent) -> str:
    """Why an event has no session yet, in words a producer can act on."""
    if event.type in TIME_PLACED_TYPES:
        return (
            f"speaker/sender peer {event.peer_id} has not joined, and meeting {event.meeting_id} "
            f"has no session within 60 s of {to_iso(event.place_at)}"
        )
    return f"waiting for the peer.joined of peer {event.peer_id}"


async def list_pending(
    conn: AsyncConnection,
    account_id: str,
    app_id: str,
    now: int,
    max_age_ms: int,
    limit: int,
    offset: int,
) -> tuple[list[PendingEvent], int]:
    """A page of the app's pending events (an app with no events yet has none)."""
    pk = await get_app_pk(conn, account_id, app_id)
    if pk is None:
        return [], 0
    rows = await repo.pending_events(conn, pk, limit, offset)
    total = await repo.count_pending(conn, pk)
    return [
        PendingEvent(
            e.id,
            e.type,
            e.meeting_id,
            e.peer_id,
            e.occurred_at,
            e.received_at,
            pending_reason(e),
            now - e.received_at > max_age_ms,
        )
        for e in rows
    ], total
