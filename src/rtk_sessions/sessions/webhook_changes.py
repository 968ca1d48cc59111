"""Derivation's one call into outgoing webhooks: a meeting's sessions before they are replaced
(read by the webhooks' side) against the freshly derived ones (docs/webhooks.md, "Events")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.sessions.accounting import MeetingEvents, Session
from rtk_sessions.sessions.repo import SessionRow
from rtk_sessions.webhooks.events import PeerState, SessionState
from rtk_sessions.webhooks.outbox import owe_session_changes, subscribers


def session_state(s: Session) -> SessionState:
    return SessionState(
        s.id,
        s.meeting_id,
        s.title,
        s.started_at,
        None if s.is_live else s.own_ended_at,
        tuple(
            PeerState(p.peer_id, p.display_name, p.custom_participant_id, p.joined_at, p.left_at)
            for p in s.peers
        ),
    )


def stored_state(row: SessionRow) -> SessionState:
    """A stored session as a file event's payload needs it (no peers)."""
    ended = row.ended_at if row.status == "ENDED" else None
    return SessionState(row.id, row.meeting_id, row.title, row.started_at, ended, ())


async def owe_webhooks(
    conn: AsyncConnection,
    app: AppRef,
    derived: Mapping[str, Sequence[Session]],
    inputs: Mapping[str, MeetingEvents],
) -> None:
    """Call before `replace_meetings(derived)`, in its transaction."""
    hooks = await subscribers(conn, app)
    if not hooks:
        return
    new = {m: [session_state(s) for s in found] for m, found in derived.items()}
    host_ends = {m: frozenset(e.occurred_at for e in inputs[m].ends) for m in derived}
    await owe_session_changes(conn, app, hooks, new, host_ends, now_ms())
