"""Every SQL statement about built files."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.db import serialize_on
from rtk_sessions.kit.rows import from_row
from rtk_sessions.kit.tables import artifacts, events, sessions


@dataclass(frozen=True)
class Artifact:
    app_pk: int
    key: str
    session_id: str
    kind: str
    variant: str
    fingerprint: str
    size: int
    built_at: int


async def find_artifact(
    conn: AsyncConnection, app_pk: int, session_id: str, kind: str, variant: str, fingerprint: str
) -> Artifact | None:
    """The live (not superseded) file built from exactly this content, if any."""
    c = artifacts.c
    row = (
        await conn.execute(
            select(artifacts).where(
                c.app_pk == app_pk,
                c.session_id == session_id,
                c.kind == kind,
                c.variant == variant,
                c.fingerprint == fingerprint,
                c.superseded_at.is_(None),
            )
        )
    ).first()
    return None if row is None else from_row(Artifact, row)


async def record_artifact(conn: AsyncConnection, artifact: Artifact, now: int) -> None:
    """Store a newly built file; older builds of the same kind and variant are superseded."""
    await serialize_on(conn, artifact.app_pk, f"files:{artifact.session_id}")
    c = artifacts.c
    await conn.execute(
        update(artifacts)
        .where(
            c.app_pk == artifact.app_pk,
            c.session_id == artifact.session_id,
            c.kind == artifact.kind,
            c.variant == artifact.variant,
            c.superseded_at.is_(None),
            c.key != artifact.key,
        )
        .values(superseded_at=now)
    )
    await conn.execute(delete(artifacts).where(c.app_pk == artifact.app_pk, c.key == artifact.key))
    await conn.execute(insert(artifacts).values(**artifact.__dict__, superseded_at=None))


async def purgeable(
    conn: AsyncConnection, now: int, link_ttl_ms: int, retention_ms: dict[str, int], limit: int
) -> list[tuple[int, str]]:
    """(app, key) of files nobody can fetch any more: superseded longer than a link lives, or
    belonging to an ENDED session past its kind's retention."""
    c, s = artifacts.c, sessions.c
    superseded = select(c.app_pk, c.key).where(c.superseded_at <= now - link_ttl_ms)
    found = [(r.app_pk, r.key) for r in await conn.execute(superseded.limit(limit))]
    for kind, keep_ms in retention_ms.items():
        if keep_ms <= 0 or len(found) >= limit:
            continue
        expired = (
            select(c.app_pk, c.key)
            .join(sessions, (s.app_pk == c.app_pk) & (s.id == c.session_id))
            .where(c.kind == kind, s.status == "ENDED", s.ended_at <= now - keep_ms)
            .limit(limit - len(found))
        )
        found += [(r.app_pk, r.key) for r in await conn.execute(expired)]
    return found


async def forget(conn: AsyncConnection, app_pk: int, key: str) -> None:
    await conn.execute(
        delete(artifacts).where(artifacts.c.app_pk == app_pk, artifacts.c.key == key)
    )


async def delete_content(conn: AsyncConnection, ended_before: int) -> int:
    """Delete chat messages and transcript segments of sessions ended before the cutoff
    (RTK_CONTENT_RETENTION); session and participant records stay."""
    e, s = events.c, sessions.c
    ended = (
        select(s.id)
        .where(
            s.app_pk == e.app_pk,
            s.id == e.session_id,
            s.status == "ENDED",
            s.ended_at <= ended_before,
        )
        .exists()
    )
    result = await conn.execute(
        delete(events).where(e.type.in_(("chat.message", "transcript.segment")), ended)
    )
    return int(result.rowcount or 0)
