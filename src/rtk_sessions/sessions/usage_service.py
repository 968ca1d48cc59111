"""Daywise usage read in the request's transaction: stored sums plus open intervals."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.apps import AppRef
from rtk_sessions.sessions import usage_repo
from rtk_sessions.sessions.usage import DayUsage, daywise


async def daywise_usage(
    conn: AsyncConnection, app: AppRef, first: int, last: int, now: int
) -> list[DayUsage]:
    stored = await usage_repo.stored_days(conn, app.pk, first, last)
    return daywise(first, last, stored, await usage_repo.open_joins(conn, app.pk), now)
