"""Alembic environment: runs migrations on the async engine of the configured URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from rtk_sessions.kit.tables import metadata

config = context.config
# Several processes may start at once on one PostgreSQL database (API processes on several
# hosts): the first to take this lock migrates, the others then find the schema current.
MIGRATION_LOCK = 0x72746B_6D6967  # "rtkmig"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def _online() -> None:
    from rtk_sessions.kit.db import Database

    db = Database(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with db.writer.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await db.dispose()


asyncio.run(_online())
