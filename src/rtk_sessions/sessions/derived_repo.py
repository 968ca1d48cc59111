"""Every SQL statement that writes derived sessions, participants and breakout links.

Derivation works on many meetings at once, so each statement here takes a list of meetings
(or peers, or sessions) and is one index lookup per item: a batch costs the same however long
the app's history is (docs/ingestion.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import msgspec
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.rows import by_key, chunks, from_row
from rtk_sessions.kit.tables import meetings, peers, sessions
from rtk_sessions.sessions.accounting import Peer, Session, Span
from rtk_sessions.sessions.folding import fold
from rtk_sessions.sessions.usage import UsageChange
from rtk_sessions.sessions.usage_repo import add_usage, clear_usage


async def spans_of_meetings(
    conn: AsyncConnection, app_pk: int, meeting_ids: Sequence[str]
) -> dict[str, list[Span]]:
    """Per meeting: each session's own span (its own peers only), for placement by time."""
    found: dict[str, list[Span]] = {}
    for chunk in chunks(meeting_ids):
        rows = await conn.execute(
            select(
                sessions.c.id, sessions.c.meeting_id, sessions.c.started_at, sessions.c.own_ended_at
            ).where(sessions.c.app_pk == app_pk, sessions.c.meeting_id.in_(chunk))
        )
        for r in rows:
            found.setdefault(r.meeting_id, []).append(Span(r.id, r.started_at, r.own_ended_at))
    return found


async def meetings_of_sessions(
    conn: AsyncConnection, app_pk: int, session_ids: Iterable[str]
) -> dict[str, str]:
    """The meeting of each of these sessions that exists."""
    return await by_key(conn, sessions.c.id, sessions.c.meeting_id, app_pk, session_ids)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _session_row(app_pk: int, s: Session) -> dict[str, Any]:
    return {
        "app_pk": app_pk,
        "id": s.id,
        "meeting_id": s.meeting_id,
        "parent_session_id": None,
        "title": s.title,
        "type": s.type,
        "meta": s.meta if s.meta is None or isinstance(s.meta, str) else _json(s.meta),
        "status": "LIVE" if s.is_live else "ENDED",
        "started_at": s.started_at,
        "ended_at": s.own_ended_at,
        "own_ended_at": s.own_ended_at,
        "max_concurrent": s.max_concurrent,
        "open_count": s.open_count,
        "closed_ms": s.closed_ms,
        "open_join_sum_ms": s.open_join_sum_ms,
        "own_updated_at": s.updated_at,
        "updated_at": s.updated_at,
        "title_folded": fold(s.title),
        "meeting_id_folded": fold(s.meeting_id),
    }


def _peer_row(app_pk: int, p: Peer) -> dict[str, Any]:
    row = {"app_pk": app_pk, **p.__dict__, "id": p.peer_id}
    del row["peer_id"]
    row["id_folded"] = fold(p.peer_id)
    row["user_id_folded"] = fold(p.user_id)
    row["custom_participant_id_folded"] = fold(p.custom_participant_id)
    row["display_name_folded"] = fold(p.display_name)
    return row


_PEER_FIELDS = tuple(f.name for f in fields(Peer))
_PEER_COLUMNS = tuple(peers.c.id if name == "peer_id" else peers.c[name] for name in _PEER_FIELDS)


async def stored_peers(
    conn: AsyncConnection, app_pk: int, meeting_ids: Sequence[str], peer_ids: Iterable[str]
) -> dict[str, Peer]:
    """The stored peers of these meetings, and these peers wherever they are: what a fresh
    derivation of the meetings is compared with (one lookup per meeting, then per peer)."""
    found: dict[str, Peer] = {}
    for chunk in chunks(meeting_ids):
        rows = await conn.execute(
            select(*_PEER_COLUMNS).where(peers.c.app_pk == app_pk, peers.c.meeting_id.in_(chunk))
        )
        found.update((r[0], Peer(*r)) for r in rows)
    for chunk in chunks(sorted(set(peer_ids) - found.keys())):
        rows = await conn.execute(
            select(*_PEER_COLUMNS).where(peers.c.app_pk == app_pk, peers.c.id.in_(chunk))
        )
        found.update((r[0], Peer(*r)) for r in rows)
    return found


# A session's own columns: what derivation writes. The breakout links (parent_session_id,
# ended_at, status, updated_at) are `relink`'s, and the folds follow from title and meeting.
_OWN_COLUMNS = (
    "id", "meeting_id", "title", "type", "meta", "started_at", "own_ended_at", "max_concurrent",
    "open_count", "closed_ms", "open_join_sum_ms", "own_updated_at",
)  # fmt: skip


_STARTED_AT = _OWN_COLUMNS.index("started_at")


def _own(s: Session) -> tuple[Any, ...]:
    meta = s.meta if s.meta is None or isinstance(s.meta, str) else _json(s.meta)
    return (s.id, s.meeting_id, s.title, s.type, meta, s.started_at, s.own_ended_at,
            s.max_concurrent, s.open_count, s.closed_ms, s.open_join_sum_ms, s.updated_at)  # fmt: skip


async def stored_sessions(
    conn: AsyncConnection, app_pk: int, meeting_ids: Sequence[str]
) -> dict[str, tuple[Any, ...]]:
    """The own columns of these meetings' stored sessions, by session id."""
    found: dict[str, tuple[Any, ...]] = {}
    for chunk in chunks(meeting_ids):
        rows = await conn.execute(
            select(*(sessions.c[name] for name in _OWN_COLUMNS)).where(
                sessions.c.app_pk == app_pk, sessions.c.meeting_id.in_(chunk)
            )
        )
        found.update((r[0], tuple(r)) for r in rows)
    return found


async def replace_meetings(
    conn: AsyncConnection,
    app_pk: int,
    derived: Mapping[str, Sequence[Session]],
    old_sessions: Mapping[str, tuple[Any, ...]],
    old_peers: Mapping[str, Peer],
) -> list[str]:
    """Make these meetings' stored sessions and peers the freshly derived ones, writing only
    the rows that differ (`old_*` as read by `stored_sessions` and `stored_peers`): a batch
    usually changes the last session of a meeting, not its history. Returns the ids of the
    sessions written."""
    new_sessions = {s.id: s for found in derived.values() for s in found}
    changed = [s for sid, s in new_sessions.items() if old_sessions.get(sid) != _own(s)]
    gone = [sid for sid in old_sessions if sid not in new_sessions]
    stale = sorted([*gone, *(s.id for s in changed if s.id in old_sessions)])
    new_peers = {p.peer_id: p for s in new_sessions.values() for p in s.peers}
    moved = [p for pid, p in new_peers.items() if old_peers.get(pid) != p]
    left = [pid for pid, p in old_peers.items() if pid not in new_peers and p.meeting_id in derived]
    stale_peers = sorted([*left, *(p.peer_id for p in moved if p.peer_id in old_peers)])
    for ids in chunks(stale):
        await conn.execute(
            delete(sessions).where(sessions.c.app_pk == app_pk, sessions.c.id.in_(ids))
        )
    for ids in chunks(stale_peers):
        await conn.execute(delete(peers).where(peers.c.app_pk == app_pk, peers.c.id.in_(ids)))
    if changed:
        await conn.execute(insert(sessions), [_session_row(app_pk, s) for s in changed])
    if moved:
        await conn.execute(insert(peers), [_peer_row(app_pk, p) for p in moved])
    # The per-day usage sums follow: what was deleted subtracts, what was written adds.
    usage = UsageChange()
    for sid in stale:
        usage.session(old_sessions[sid][_STARTED_AT], -1)
    for s in changed:
        usage.session(s.started_at, +1)
    for pid in stale_peers:
        usage.peer(old_peers[pid].joined_at, old_peers[pid].left_at, -1)
    for p in moved:
        usage.peer(p.joined_at, p.left_at, +1)
    await add_usage(conn, app_pk, usage)
    return [s.id for s in changed]


async def set_parents(
    conn: AsyncConnection, app_pk: int, parents: Iterable[tuple[str, str | None]]
) -> None:
    """(meeting id, the meeting it is a breakout room of) for meetings whose parent changed."""
    rows = [{"b_id": m, "b_parent": p} for m, p in parents]
    if rows:
        await conn.execute(
            update(meetings)
            .where(meetings.c.app_pk == app_pk, meetings.c.id == bindparam("b_id"))
            .values(parent_meeting_id=bindparam("b_parent")),
            rows,
        )


async def parents_of(
    conn: AsyncConnection, app_pk: int, meeting_ids: Iterable[str]
) -> dict[str, str | None]:
    """The declared parent of each known meeting (unknown meetings are absent)."""
    return await by_key(conn, meetings.c.id, meetings.c.parent_meeting_id, app_pk, meeting_ids)


async def children_of(
    conn: AsyncConnection, app_pk: int, meeting_ids: Iterable[str]
) -> dict[str, list[str]]:
    """The meetings that name each of these as their parent, sorted (absent: none).

    No ORDER BY in SQL: SQLite would then walk the app's whole primary key in order instead
    of looking the parents up in their index.
    """
    found: dict[str, list[str]] = {}
    for chunk in chunks(sorted(set(meeting_ids))):
        rows = await conn.execute(
            select(meetings.c.id, meetings.c.parent_meeting_id).where(
                meetings.c.app_pk == app_pk, meetings.c.parent_meeting_id.in_(chunk)
            )
        )
        for r in rows:
            found.setdefault(r.parent_meeting_id, []).append(r.id)
    return {parent: sorted(children) for parent, children in found.items()}


@dataclass(frozen=True)
class FamilyRow:
    """A session of a breakout family: its own figures and the links as stored now."""

    id: str
    meeting_id: str
    started_at: int
    own_ended_at: int | None
    own_updated_at: int
    parent_session_id: str | None
    ended_at: int | None
    status: str
    updated_at: int


@dataclass(frozen=True)
class Link:
    """A session's breakout link and effective end, as `relink` computes them."""

    session_id: str
    parent_session_id: str | None
    ended_at: int | None
    updated_at: int

    @property
    def status(self) -> str:
        return "ENDED" if self.ended_at is not None else "LIVE"


async def family_sessions(
    conn: AsyncConnection, app_pk: int, meeting_ids: Sequence[str]
) -> list[FamilyRow]:
    found: list[FamilyRow] = []
    for chunk in chunks(meeting_ids):
        rows = await conn.execute(
            select(*(sessions.c[name] for name in FamilyRow.__dataclass_fields__)).where(
                sessions.c.app_pk == app_pk, sessions.c.meeting_id.in_(chunk)
            )
        )
        found += [from_row(FamilyRow, r) for r in rows]
    return found


async def set_links(conn: AsyncConnection, app_pk: int, links: Sequence[Link]) -> None:
    """Store links: one statement, run once per session."""
    if not links:
        return
    await conn.execute(
        update(sessions)
        .where(sessions.c.app_pk == app_pk, sessions.c.id == bindparam("b_id"))
        .values(
            parent_session_id=bindparam("b_parent"),
            ended_at=bindparam("b_ended"),
            status=bindparam("b_status"),
            updated_at=bindparam("b_updated"),
        ),
        [
            {
                "b_id": k.session_id,
                "b_parent": k.parent_session_id,
                "b_ended": k.ended_at,
                "b_status": k.status,
                "b_updated": k.updated_at,
            }
            for k in links
        ],
    )


async def clear_derived(conn: AsyncConnection, app_pk: int) -> None:
    await clear_usage(conn, app_pk)
    await conn.execute(delete(peers).where(peers.c.app_pk == app_pk))
    await conn.execute(delete(sessions).where(sessions.c.app_pk == app_pk))
