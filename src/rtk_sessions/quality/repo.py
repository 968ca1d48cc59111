"""Every SQL statement about peer telemetry and stored peer reports."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.db import serialize_on
from rtk_sessions.kit.rows import from_row
from rtk_sessions.kit.tables import events, imported_peer_reports, peer_reports, peers
from rtk_sessions.sessions.repo import PeerRow

TELEMETRY = ("peer.metadata", "peer.event", "peer.stats")


@dataclass(frozen=True)
class TelemetryEvent:
    id: str
    type: str
    occurred_at: int
    body: str


async def find_peer(conn: AsyncConnection, app_pk: int, peer_id: str) -> PeerRow | None:
    row = (
        await conn.execute(select(peers).where(peers.c.app_pk == app_pk, peers.c.id == peer_id))
    ).first()
    return None if row is None else from_row(PeerRow, row)


async def telemetry_state(conn: AsyncConnection, app_pk: int, peer_id: str) -> tuple[int, int]:
    """(events, latest arrival) of the peer's telemetry: changes whenever the report would."""
    e = events.c
    count, latest = (
        await conn.execute(
            select(func.count(), func.coalesce(func.max(e.received_at), 0)).where(
                e.app_pk == app_pk, e.peer_id == peer_id, e.type.in_(TELEMETRY)
            )
        )
    ).one()
    return int(count), int(latest)


async def telemetry(conn: AsyncConnection, app_pk: int, peer_id: str) -> list[TelemetryEvent]:
    """The peer's telemetry events by time, ties by id (the order merging relies on)."""
    e = events.c
    rows = await conn.execute(
        select(e.id, e.type, e.occurred_at, e.body)
        .where(e.app_pk == app_pk, e.peer_id == peer_id, e.type.in_(TELEMETRY))
        .order_by(e.occurred_at, e.id)
    )
    return [TelemetryEvent(r.id, r.type, r.occurred_at, r.body) for r in rows]


async def stored_report(conn: AsyncConnection, app_pk: int, peer_id: str) -> tuple[str, str] | None:
    """(fingerprint, report JSON) of the stored report, if any."""
    c = peer_reports.c
    row = (
        await conn.execute(
            select(c.fingerprint, c.report).where(c.app_pk == app_pk, c.peer_id == peer_id)
        )
    ).first()
    return None if row is None else (row.fingerprint, row.report)


async def store_report(
    conn: AsyncConnection, app_pk: int, peer_id: str, fingerprint: str, report: str, now: int
) -> None:
    await serialize_on(conn, app_pk, f"peer-report:{peer_id}")
    c = peer_reports.c
    await conn.execute(delete(peer_reports).where(c.app_pk == app_pk, c.peer_id == peer_id))
    await conn.execute(
        insert(peer_reports).values(
            app_pk=app_pk, peer_id=peer_id, fingerprint=fingerprint, report=report, built_at=now
        )
    )


async def imported_report(conn: AsyncConnection, app_pk: int, peer_id: str) -> str | None:
    """The report JSON a history import brought for this peer, if any."""
    c = imported_peer_reports.c
    return (
        await conn.execute(select(c.report).where(c.app_pk == app_pk, c.peer_id == peer_id))
    ).scalar()


async def store_imported_report(
    conn: AsyncConnection, app_pk: int, peer_id: str, report: str, now: int
) -> None:
    """Keep (or replace) the report another server served for this peer."""
    await serialize_on(conn, app_pk, f"imported-report:{peer_id}")
    c = imported_peer_reports.c
    where = (c.app_pk == app_pk, c.peer_id == peer_id)
    await conn.execute(delete(imported_peer_reports).where(*where))
    await conn.execute(
        insert(imported_peer_reports).values(
            app_pk=app_pk, peer_id=peer_id, report=report, imported_at=now
        )
    )


async def meeting_of_peer(conn: AsyncConnection, app_pk: int, peer_id: str) -> str | None:
    row = (
        await conn.execute(
            select(peers.c.meeting_id).where(peers.c.app_pk == app_pk, peers.c.id == peer_id)
        )
    ).first()
    return None if row is None else str(row.meeting_id)
