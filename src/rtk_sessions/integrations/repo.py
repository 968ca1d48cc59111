"""Every SQL statement of the integrations: per-app provider settings and import checkpoints."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import msgspec
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.tables import app_integrations, import_checkpoints

REALTIMEKIT = "realtimekit"
LIVEKIT = "livekit"


@dataclass(frozen=True)
class RealtimeKitSettings:
    """How a RealtimeKit app's webhooks are verified: a pinned PEM public key, or the URL of
    RealtimeKit's key document with the key last fetched from it (`public_key_pem`)."""

    public_key_pem: str | None = None
    public_key_url: str | None = None


@dataclass(frozen=True)
class LiveKitSettings:
    """The LiveKit server's API key (the webhook token's issuer) and its secret."""

    api_key: str
    api_secret: str


async def _put(
    conn: AsyncConnection, table: Any, key: dict[str, Any], values: dict[str, Any]
) -> None:
    """Insert or replace one row (the same on both databases)."""
    where = [table.c[name] == value for name, value in key.items()]
    done = await conn.execute(update(table).where(*where).values(**values))
    if done.rowcount == 0:
        await conn.execute(insert(table).values(**key, **values))


async def _get(conn: AsyncConnection, app_pk: int, provider: str) -> dict[str, Any] | None:
    c = app_integrations.c
    text = (
        await conn.execute(select(c.settings).where(c.app_pk == app_pk, c.provider == provider))
    ).scalar()
    return None if text is None else dict(msgspec.json.decode(text))


async def _set(conn: AsyncConnection, app_pk: int, provider: str, value: Any, now: int) -> None:
    await _put(
        conn,
        app_integrations,
        {"app_pk": app_pk, "provider": provider},
        {"settings": msgspec.json.encode(asdict(value)).decode(), "updated_at": now},
    )


async def get_realtimekit(conn: AsyncConnection, app_pk: int) -> RealtimeKitSettings | None:
    found = await _get(conn, app_pk, REALTIMEKIT)
    return None if found is None else RealtimeKitSettings(**found)


async def set_realtimekit(
    conn: AsyncConnection, app_pk: int, value: RealtimeKitSettings, now: int
) -> None:
    await _set(conn, app_pk, REALTIMEKIT, value, now)


async def get_livekit(conn: AsyncConnection, app_pk: int) -> LiveKitSettings | None:
    found = await _get(conn, app_pk, LIVEKIT)
    return None if found is None else LiveKitSettings(**found)


async def set_livekit(conn: AsyncConnection, app_pk: int, value: LiveKitSettings, now: int) -> None:
    await _set(conn, app_pk, LIVEKIT, value, now)


async def remove(conn: AsyncConnection, app_pk: int, provider: str) -> bool:
    c = app_integrations.c
    done = await conn.execute(
        delete(app_integrations).where(c.app_pk == app_pk, c.provider == provider)
    )
    return bool(done.rowcount)


async def providers_of_apps(conn: AsyncConnection) -> dict[int, list[str]]:
    """The providers set up for each app that has any."""
    c = app_integrations.c
    found: dict[int, list[str]] = {}
    for row in await conn.execute(select(c.app_pk, c.provider).order_by(c.app_pk, c.provider)):
        found.setdefault(row.app_pk, []).append(row.provider)
    return found


async def get_checkpoint(conn: AsyncConnection, app_pk: int, source: str) -> dict[str, Any] | None:
    c = import_checkpoints.c
    text = (
        await conn.execute(select(c.state).where(c.app_pk == app_pk, c.source == source))
    ).scalar()
    return None if text is None else dict(msgspec.json.decode(text))


async def set_checkpoint(
    conn: AsyncConnection, app_pk: int, source: str, state: dict[str, Any], now: int
) -> None:
    await _put(
        conn,
        import_checkpoints,
        {"app_pk": app_pk, "source": source},
        {"state": msgspec.json.encode(state).decode(), "updated_at": now},
    )
