"""`GET /analytics/daywise` (`client.realtime_kit.analytics.get_org_analytics`,
docs/analytics.md)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import Parameter

from rtk_sessions.auth.deps import AppReading, app_reading
from rtk_sessions.kit.http import error_responses
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.sessions.schemas import SessionStats, session_stats
from rtk_sessions.sessions.usage import day_range
from rtk_sessions.sessions.usage_service import daywise_usage


class AnalyticsData(msgspec.Struct):
    """No `recording_stats`: this service knows no recordings (docs/analytics.md)."""

    session_stats: SessionStats


class AnalyticsResponse(msgspec.Struct):
    data: AnalyticsData
    success: bool = True


DateParam = Annotated[str | None, Parameter(description="YYYY-MM-DD (UTC), inclusive")]


class AnalyticsController(Controller):
    path = "/analytics"
    tags = ["analytics"]
    dependencies = {"reading": Provide(app_reading)}

    @get("/daywise", operation_id="GetOrgAnalytics", responses=error_responses(400, 401, 403, 404))
    async def get_org_analytics(
        self,
        reading: NamedDependency[AppReading],
        start_date: DateParam = None,
        end_date: DateParam = None,
    ) -> AnalyticsResponse:
        """Sessions started and session minutes per UTC day (default: the last 30 days)."""
        now = now_ms()
        first, last = day_range(start_date, end_date, now)
        days = await daywise_usage(reading.conn, reading.app, first, last, now)
        return AnalyticsResponse(AnalyticsData(session_stats(days)))
