"""Every SQL statement that reads sessions and participants (derivation writes them through
`derived_repo`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import msgspec
from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.rows import from_row
from rtk_sessions.kit.tables import peers, session_counts, sessions
from rtk_sessions.sessions.accounting import consumed_ms
from rtk_sessions.sessions.folding import fold

# The largest number we hand to SQL: columns and LIMIT/OFFSET binds are 32-bit on PostgreSQL.
SQL_INT_CAP = 2**31 - 1


@dataclass(frozen=True)
class SessionRow:
    id: str
    meeting_id: str
    parent_session_id: str | None
    title: str
    type: str
    meta: dict[str, Any] | None
    status: str
    started_at: int
    ended_at: int | None
    max_concurrent: int
    open_count: int
    closed_ms: int
    open_join_sum_ms: int
    updated_at: int


# What reads fetch: the read model's columns, not the search folds (narrower rows to sort).
_SESSION_COLUMNS = [sessions.c[f.name] for f in fields(SessionRow)]


def _session_from(row: Any) -> SessionRow:
    meta = None if row.meta is None else msgspec.json.decode(row.meta)
    return from_row(SessionRow, row, meta=meta)


@dataclass(frozen=True)
class SessionQuery:
    """Filters and order of `GET /sessions`, already validated."""

    page_no: int = 1
    per_page: int = 25
    sort_by: str = "createdAt"
    descending: bool = True
    start_time: int | None = None
    end_time: int | None = None
    status: str | None = None
    search: str | None = None
    associated_id: str | None = None
    min_participants: int | None = None
    max_participants: int | None = None


def _contains(column: ColumnElement[str], folded: str) -> ColumnElement[bool]:
    """`folded` is a literal substring of `column` (`%`, `_` and `\\` match themselves)."""
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{escaped}%", escape="\\")


def _session_search(term: str, dialect: str) -> ColumnElement[bool]:
    """Literal substring, ignoring case (sessions.folding), of title, meeting id or session id.

    Matched on the stored folds. SQLite answers folded terms of 3+ characters from the
    case-sensitive FTS5 trigram index over the folds (migration 0005), a quoted phrase so that
    `%`, `_` and quotes are literal; PostgreSQL's LIKE uses the pg_trgm indexes by itself.
    Shorter terms scan.
    """
    c = sessions.c
    folded = fold(term)
    if dialect == "sqlite" and len(folded) >= 3:  # _fts_search
        phrase = '"' + folded.replace('"', '""') + '"'
        matches: Select[tuple[Any]] = (
            select(literal_column("rowid"))
            .select_from(table("sessions_search"))
            .where(literal_column("sessions_search").op("MATCH")(phrase))
        )
        return literal_column("sessions.rowid").in_(matches)
    return or_(
        _contains(c.title_folded, folded),
        _contains(c.meeting_id_folded, folded),
        _contains(c.id, folded),
    )


def _fts_search(q: SessionQuery, dialect: str) -> bool:
    return bool(q.search) and dialect == "sqlite" and len(fold(q.search or "")) >= 3


class _Columns:
    """The sessions columns a list query names. On SQLite, when a selective filter is given (a
    meeting, or a search the FTS index answers), every other column is written `+column`, a
    documented SQLite idiom that keeps a term out of index choice: SQLite has no statistics
    (nothing runs ANALYZE) and would otherwise prefer walking an index in the page's order,
    testing each of the app's rows, over looking the few matches up and sorting them."""

    def __init__(self, q: SessionQuery, dialect: str) -> None:
        self.fts = _fts_search(q, dialect)
        self.meeting = bool(q.associated_id) and not self.fts
        self.plain = dialect == "sqlite" and (self.fts or self.meeting)

    def __getattr__(self, name: str) -> Any:
        keep = name == "id" or (self.meeting and name in ("app_pk", "meeting_id"))
        if self.plain and not keep:
            return literal_column(f"+sessions.{name}")
        return sessions.c[name]


def _session_filters(
    app_pk: int, q: SessionQuery, c: _Columns, value: int | None = None
) -> list[ColumnElement[bool]]:
    """The query's filters; with `value`, `max_concurrent = value` instead of its range (SQLite
    would walk the range rather than the value, given both)."""
    where: list[ColumnElement[bool]] = [c.app_pk == app_pk]
    if q.start_time is not None:
        where.append(c.started_at >= q.start_time)
    if q.end_time is not None:
        where.append(c.started_at < q.end_time)
    if q.status:
        where.append(c.status == q.status)
    if q.associated_id:
        where.append(c.meeting_id == q.associated_id)
    if value is not None:
        where.append(c.max_concurrent == value)
    else:
        if q.min_participants is not None:
            where.append(c.max_concurrent >= q.min_participants)
        if q.max_participants is not None:
            where.append(c.max_concurrent <= q.max_participants)
    if q.search:
        where.append(_session_search(q.search, "sqlite" if c.fts else "other"))
    return where


def _offset(page_no: int, per_page: int) -> int:
    """Rows to skip; past any real table's end once it stops fitting a SQL integer."""
    return min((page_no - 1) * per_page, SQL_INT_CAP)


def minutes_ms_expr(now: int) -> ColumnElement[Any]:
    """`accounting.consumed_ms` in SQL: milliseconds consumed as served at `now`."""
    c = sessions.c
    running = c.closed_ms + c.open_count * literal(now) - c.open_join_sum_ms
    return case((running < c.closed_ms, c.closed_ms), else_=running)


def _counted(q: SessionQuery) -> bool:
    """Whether `session_counts` answers this query's total: no filter but status and
    participants."""
    return q.start_time is None and q.end_time is None and not q.search and not q.associated_id


@dataclass(frozen=True)
class _Total:
    sessions: int
    # Sessions per max_concurrent value, when `session_counts` answered the total.
    by_participants: dict[int, int] | None = None


async def _total(
    conn: AsyncConnection, app_pk: int, q: SessionQuery, where: list[ColumnElement[bool]]
) -> _Total:
    """Exact `total_count`: a sum over the app's few counter rows where they answer it, else a
    count over the index the filters use (its cost grows with the matching rows)."""
    if not _counted(q):
        query = select(func.count()).select_from(sessions).where(*where)
        return _Total(int((await conn.execute(query)).scalar_one()))
    k = session_counts.c
    cond: list[ColumnElement[bool]] = [k.app_pk == app_pk, k.sessions > 0]
    if q.status:
        cond.append(k.status == q.status)
    if q.min_participants is not None:
        cond.append(k.max_concurrent >= q.min_participants)
    if q.max_participants is not None:
        cond.append(k.max_concurrent <= q.max_participants)
    by_value: dict[int, int] = {}
    for r in await conn.execute(select(k.max_concurrent, k.sessions).where(*cond)):
        by_value[r.max_concurrent] = by_value.get(r.max_concurrent, 0) + int(r.sessions)
    return _Total(sum(by_value.values()), by_value)


# Up to this many max_concurrent values in a participants range are read as one ordered index
# walk each, merged; more than that and the range's sessions are sorted.
MERGED_VALUES = 64


def _merged_values(q: SessionQuery, total: _Total) -> list[int] | None:
    """The max_concurrent values whose ordered walks, merged, give a participants-range page."""
    ranged = q.min_participants is not None or q.max_participants is not None
    if not ranged or total.by_participants is None or q.status == "LIVE":
        return None  # the LIVE sessions are few: their status index leads
    values = sorted(total.by_participants)
    return values if 0 < len(values) <= MERGED_VALUES else None


@dataclass(frozen=True)
class _Window:
    """Which entries of the ordered list to read: `limit` from `offset`, in this direction."""

    descending: bool
    offset: int
    limit: int


def _window(q: SessionQuery, total: int) -> _Window:
    """The page as a walk from the nearer end: the last pages of a million sessions are the
    first entries of the index read backwards, so no page walks more than half the list."""
    offset = _offset(q.page_no, q.per_page)
    if total // 2 < offset < total:
        limit = min(q.per_page, total - offset)
        return _Window(not q.descending, total - offset - limit, limit)
    return _Window(q.descending, offset, q.per_page)


# A filtered list with at most this many matches sorts them instead of walking the sort's
# index: a LIMIT makes both planners walk the order index and test every entry against the
# filter, which for a rare match means most of the app.
SORT_MATCHES = 10_000


def _key(column: Any, q: SessionQuery, total: int) -> Any:
    """The sort key as written in the page's query: `column + 0` (which no index provides)
    when a filter other than status and participants leaves few matches to sort."""
    return column + 0 if not _counted(q) and total <= SORT_MATCHES else column


def _ordered(key: Any, tiebreak: Any, descending: bool) -> list[Any]:
    return [key.desc(), tiebreak.desc()] if descending else [key.asc(), tiebreak.asc()]


def _merge(parts: list[Select[Any]]) -> Any:
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()


async def _page_ids_by_minutes(
    conn: AsyncConnection,
    c: _Columns,
    where: Callable[[int | None], list[ColumnElement[bool]]],
    q: SessionQuery,
    w: _Window,
    now: int,
    values: list[int] | None,
    total: int,
) -> list[str]:
    """Ids of the page by minutes consumed at `now`, then id.

    An ENDED session's consumed ms is its stored `closed_ms` (no peer is open), so ENDED
    sessions are read in order from the (app_pk, status, closed_ms, id) index (with a
    participants range: each value's walk of (app_pk, status, max_concurrent, closed_ms, id),
    merged); only the LIVE sessions, the few running now, are computed at `now`, all L of them.
    With L LIVE sessions, the page's ENDED entries lie within positions [offset − L,
    offset + limit) of the ENDED order, so only limit + L entries are read there (after an
    index skip); the position of the first of them in the whole list is its ENDED position
    plus the LIVE sessions ranked before it. The page is exactly the one a full sort gives.
    """
    live: list[tuple[int, str]] = []
    if q.status != "ENDED":
        found = await conn.execute(
            select(minutes_ms_expr(now).label("consumed"), c.id).where(
                *where(None), c.status == "LIVE"
            )
        )
        live = sorted(((r.consumed, r.id) for r in found), reverse=w.descending)
    base = max(0, w.offset - len(live))
    ended: list[tuple[int, str]] = []
    if q.status != "LIVE":
        top = min(base + w.limit + len(live), SQL_INT_CAP)
        walks: list[int | None] = [None] if values is None else list(values)
        parts: list[Select[Any]] = []
        for value in walks:
            walk = (
                select(c.closed_ms.label("consumed"), c.id)
                .where(*where(value), c.status == "ENDED")
                .order_by(*_ordered(_key(c.closed_ms, q, total), c.id, w.descending))
                .limit(top)
            )
            if len(walks) > 1:
                sub = walk.subquery()
                walk = select(sub.c.consumed, sub.c.id)
            parts.append(walk)
        walked = parts[0]
        if len(parts) > 1:
            merged = _merge(parts)
            walked = select(merged.c.consumed, merged.c.id).order_by(
                *_ordered(merged.c.consumed, merged.c.id, w.descending)
            )
        page = walked.limit(w.limit + len(live)).offset(base)
        ended = [(r.consumed, r.id) for r in await conn.execute(page)]

    def before(a: tuple[int, str], b: tuple[int, str]) -> bool:
        return a > b if w.descending else a < b

    if not ended:  # every ENDED session ranks before the LIVE ones read here
        start, rest = total - len(live), live
    elif base == 0:
        start, rest = 0, live
    else:
        first = ended[0]
        start = base + sum(1 for x in live if before(x, first))
        rest = [x for x in live if not before(x, first)]
    ordered = sorted(ended + rest, reverse=w.descending)
    return [i for _, i in ordered[w.offset - start : w.offset - start + w.limit]]


def _page_ids_by_start(
    c: _Columns,
    where: Callable[[int | None], list[ColumnElement[bool]]],
    q: SessionQuery,
    w: _Window,
    values: list[int] | None,
    total: int,
) -> Select[Any]:
    """Ids of the page by start, then id: one walk of the start order's index, or with a
    participants range one walk of (app_pk, max_concurrent, started_at, id) per value, merged."""
    ranged = q.start_time is not None or q.end_time is not None
    start_key = c.started_at if ranged else _key(c.started_at, q, total)  # a range is in order
    if values is None:
        return (
            select(c.id)
            .where(*where(None))
            .order_by(*_ordered(start_key, c.id, w.descending))
            .limit(w.limit)
            .offset(w.offset)
        )
    top = min(w.offset + w.limit, SQL_INT_CAP)
    parts: list[Select[Any]] = []
    for value in values:
        walk = (
            select(c.id, c.started_at)
            .where(*where(value))
            .order_by(*_ordered(c.started_at, c.id, w.descending))
            .limit(top)
            .subquery()
        )
        parts.append(select(walk.c.id, walk.c.started_at))
    merged = _merge(parts)
    return (
        select(merged.c.id)
        .order_by(*_ordered(merged.c.started_at, merged.c.id, w.descending))
        .limit(w.limit)
        .offset(w.offset)
    )


async def list_sessions(
    conn: AsyncConnection, app_pk: int, q: SessionQuery, now: int
) -> tuple[list[SessionRow], int]:
    """One page and the total. The page's ids come from an index walk that reads only
    (key, id), so skipped entries of a deep page are not fetched from the table; the page's
    rows are then looked up by id (one statement) and put in the page's order here."""
    c = _Columns(q, conn.dialect.name)
    where = _session_filters(app_pk, q, c)
    counted = await _total(conn, app_pk, q, where)
    total = counted.sessions
    if _offset(q.page_no, q.per_page) >= total:
        return [], total
    w, values = _window(q, total), _merged_values(q, counted)

    def filters(value: int | None) -> list[ColumnElement[bool]]:
        return where if value is None else _session_filters(app_pk, q, c, value)

    ids: Any
    if q.sort_by == "minutesConsumed":
        ids = await _page_ids_by_minutes(conn, c, filters, q, w, now, values, total)
    else:
        ids = _page_ids_by_start(c, filters, q, w, values, total).scalar_subquery()
    rows = await conn.execute(
        select(*_SESSION_COLUMNS).where(sessions.c.app_pk == app_pk, sessions.c.id.in_(ids))
    )
    page = [_session_from(r) for r in rows]

    def key(s: SessionRow) -> tuple[int, str]:
        if q.sort_by == "minutesConsumed":
            return consumed_ms(s.closed_ms, s.open_count, s.open_join_sum_ms, now), s.id
        return s.started_at, s.id

    return sorted(page, key=key, reverse=q.descending), total


async def get_session(conn: AsyncConnection, app_pk: int, session_id: str) -> SessionRow | None:
    row = (
        await conn.execute(
            select(*_SESSION_COLUMNS).where(
                sessions.c.app_pk == app_pk, sessions.c.id == session_id
            )
        )
    ).first()
    return None if row is None else _session_from(row)


async def live_session_of_meeting(
    conn: AsyncConnection, app_pk: int, meeting_id: str
) -> SessionRow | None:
    """The meeting's LIVE session (the latest, should there ever be two)."""
    row = (
        await conn.execute(
            select(*_SESSION_COLUMNS)
            .where(
                sessions.c.app_pk == app_pk,
                sessions.c.meeting_id == meeting_id,
                sessions.c.status == "LIVE",
            )
            .order_by(sessions.c.started_at.desc(), sessions.c.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else _session_from(row)


async def child_sessions(conn: AsyncConnection, app_pk: int, session_id: str) -> list[SessionRow]:
    """Breakout rooms of a session, oldest first. Sorted here: an ORDER BY would lead SQLite to
    walk the app's sessions in start order instead of looking the parent up in its index."""
    rows = await conn.execute(
        select(*_SESSION_COLUMNS).where(
            sessions.c.app_pk == app_pk, sessions.c.parent_session_id == session_id
        )
    )
    return sorted((_session_from(r) for r in rows), key=lambda s: (s.started_at, s.id))


@dataclass(frozen=True)
class PeerRow:
    id: str
    session_id: str
    user_id: str | None
    custom_participant_id: str | None
    display_name: str | None
    preset_name: str | None
    preset_view_type: str
    socket_session_id: str | None
    joined_at: int
    left_at: int | None
    updated_at: int


_PEER_COLUMNS = [peers.c[f.name] for f in fields(PeerRow)]


def _peer_from(row: Any) -> PeerRow:
    return from_row(PeerRow, row)


@dataclass(frozen=True)
class ParticipantQuery:
    page_no: int = 1
    per_page: int = 25
    sort_by: str = "joinedAt"
    descending: bool = False
    search: str | None = None


def peer_search(term: str) -> ColumnElement[bool]:
    """Literal substring, ignoring case (sessions.folding), of peer id, user id, custom
    participant id or display name."""
    c, folded = peers.c, fold(term)
    return or_(
        _contains(c.id_folded, folded),
        _contains(c.user_id_folded, folded),
        _contains(c.custom_participant_id_folded, folded),
        _contains(c.display_name_folded, folded),
    )


async def list_peers(
    conn: AsyncConnection, app_pk: int, session_id: str, q: ParticipantQuery, now: int
) -> tuple[list[PeerRow], int]:
    c = peers.c
    where: list[ColumnElement[bool]] = [c.app_pk == app_pk, c.session_id == session_id]
    if q.search:
        where.append(peer_search(q.search))
    total = int(
        (await conn.execute(select(func.count()).select_from(peers).where(*where))).scalar_one()
    )
    if q.sort_by == "duration":
        key: ColumnElement[Any] = func.coalesce(c.left_at, literal(now)) - c.joined_at
    else:
        key = c.joined_at
    order = [key.desc(), c.id.desc()] if q.descending else [key.asc(), c.id.asc()]
    rows = await conn.execute(
        select(*_PEER_COLUMNS)
        .where(*where)
        .order_by(*order)
        .limit(q.per_page)
        .offset(_offset(q.page_no, q.per_page))
    )
    return [_peer_from(r) for r in rows], total


async def peers_of_sessions(
    conn: AsyncConnection, app_pk: int, session_ids: Sequence[str]
) -> list[PeerRow]:
    rows = await conn.execute(
        select(*_PEER_COLUMNS)
        .where(peers.c.app_pk == app_pk, peers.c.session_id.in_(list(session_ids)))
        .order_by(peers.c.joined_at, peers.c.id)
    )
    return [_peer_from(r) for r in rows]


async def get_peer(
    conn: AsyncConnection, app_pk: int, session_id: str, peer_id: str
) -> PeerRow | None:
    row = (
        await conn.execute(
            select(*_PEER_COLUMNS).where(
                peers.c.app_pk == app_pk, peers.c.session_id == session_id, peers.c.id == peer_id
            )
        )
    ).first()
    return None if row is None else _peer_from(row)


async def open_peers_of_meeting(
    conn: AsyncConnection, app_pk: int, meeting_id: str
) -> list[tuple[str, str]]:
    """(peer id, session id) of the meeting's peers still connected."""
    rows = await conn.execute(
        select(peers.c.id, peers.c.session_id).where(
            peers.c.app_pk == app_pk, peers.c.meeting_id == meeting_id, peers.c.left_at.is_(None)
        )
    )
    return [(r.id, r.session_id) for r in rows]


@dataclass(frozen=True)
class MeetingUsage:
    meeting_id: str
    title: str
    sessions: int
    consumed_ms: int


async def busiest_meetings(
    conn: AsyncConnection, app_pk: int, start: int, end: int, now: int, limit: int
) -> list[MeetingUsage]:
    """Top meetings by milliseconds consumed (as served at `now`) over the sessions that
    started in [start, end), breakout rooms included, with one of their titles."""
    c = sessions.c
    consumed = func.sum(minutes_ms_expr(now))
    rows = await conn.execute(
        select(c.meeting_id, func.max(c.title), func.count(), consumed)
        .where(c.app_pk == app_pk, c.started_at >= start, c.started_at < end)
        .group_by(c.meeting_id)
        .order_by(consumed.desc(), c.meeting_id)
        .limit(limit)
    )
    return [MeetingUsage(r[0], r[1], int(r[2]), int(r[3])) for r in rows]
