"""GET /sessions/peer-report/{peer_id} (docs/api.md): a peer's device, network and quality."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, Parameter

from rtk_sessions.auth.deps import AppReading, app_reading
from rtk_sessions.kit.http import error_responses
from rtk_sessions.kit.state import AppState
from rtk_sessions.quality.service import peer_report, rebuild_peer_report, requested_filters
from rtk_sessions.sessions.queries import flag


class PeerReportData(msgspec.Struct):
    participant: dict[str, Any]


class PeerReportResponse(msgspec.Struct):
    data: PeerReportData
    success: bool = True


class PeerReportController(Controller):
    # A literal segment: it wins over /sessions/{session_id} for "peer-report".
    path = "/sessions/peer-report"
    tags = ["sessions"]
    dependencies = {"reading": Provide(app_reading)}

    @get(
        "/{peer_id:str}",
        operation_id="GetParticipantDataFromPeerId",
        responses=error_responses(400, 401, 403, 404),
    )
    async def get_participant_data_from_peer_id(
        self,
        rtk: NamedDependency[AppState],
        reading: NamedDependency[AppReading],
        peer_id: FromPath[str],
        filters: Annotated[
            str | None,
            Parameter(
                required=False,
                description="device_info, ip_information, precall_network_information, "
                "events, quality_stats; one or a comma-separated list (default: all)",
            ),
        ] = None,
        include_peer_events: Annotated[str | None, Parameter(required=False)] = None,
    ) -> PeerReportResponse:
        """A peer's participant details with its report: device, network and call quality."""
        sections = requested_filters(filters)
        given = {} if include_peer_events is None else {"include_peer_events": include_peer_events}
        events = flag(given, "include_peer_events")
        found = await peer_report(reading.conn, reading.app, peer_id, rtk.settings)
        if found.stale:  # the second phase: rebuild the report and store it, after the read
            await reading.end()
            found = await rebuild_peer_report(rtk.db, reading.app, found, rtk.settings)
        return PeerReportResponse(PeerReportData(found.served(sections, events)))
