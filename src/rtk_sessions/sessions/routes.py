"""The four session read routes of the RealtimeKit Sessions API (docs/api.md)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, Parameter

from rtk_sessions.auth.deps import AppReading, app_reading
from rtk_sessions.kit.http import error_responses
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.sessions import service
from rtk_sessions.sessions.queries import flag, participants_request, session_query
from rtk_sessions.sessions.schemas import (
    ParticipantData,
    ParticipantResponse,
    ParticipantsData,
    ParticipantsResponse,
    SessionResponse,
    SessionsData,
    SessionsResponse,
)

Q = Annotated[str | None, Parameter(required=False)]
READ_ERRORS = error_responses(400, 401, 403, 404)
Given = dict[str, str]  # the query values a request carried, checked by the handler


def _present(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


def provide_session_query(
    page_no: Q = None,
    per_page: Q = None,
    sort_by: Annotated[str | None, Parameter(description="minutesConsumed | createdAt")] = None,
    sort_order: Annotated[str | None, Parameter(description="ASC | DESC (default)")] = None,
    start_time: Annotated[str | None, Parameter(description="ISO 8601; started_at ≥ this")] = None,
    end_time: Annotated[str | None, Parameter(description="ISO 8601; started_at < this")] = None,
    status: Annotated[str | None, Parameter(description="LIVE | ENDED")] = None,
    search: Annotated[str | None, Parameter(description="title, meeting id or session id")] = None,
    associated_id: Annotated[str | None, Parameter(description="meeting id")] = None,
    meeting_id: Annotated[str | None, Parameter(description="alias of associated_id")] = None,
    participants: Annotated[str | None, Parameter(description="MIN:MAX, MIN:, :MAX or N")] = None,
) -> Given:
    """Checked in the handler, so that authentication (401/403) comes before query errors
    (400), and no dependency fails after the request's read transaction opened."""
    return _present(**locals())


def provide_participants_request(
    page_no: Q = None,
    per_page: Q = None,
    search: Annotated[
        str | None, Parameter(description="peer id, user id, custom id or name")
    ] = None,
    sort_by: Annotated[str | None, Parameter(description="joinedAt (default) | duration")] = None,
    sort_order: Annotated[str | None, Parameter(description="ASC (default) | DESC")] = None,
    include_peer_events: Q = None,
    view: Annotated[str | None, Parameter(description="raw (default) | consolidated")] = None,
) -> Given:
    """Checked in the handler, like `provide_session_query`."""
    return _present(**locals())


class SessionsController(Controller):
    path = "/sessions"
    tags = ["sessions"]
    dependencies = {"reading": Provide(app_reading)}

    @get(
        "/",
        operation_id="GetSessions",
        responses=READ_ERRORS,
        dependencies={"q": Provide(provide_session_query, sync_to_thread=False)},
    )
    async def get_sessions(
        self,
        reading: NamedDependency[AppReading],
        q: NamedDependency[Given],
    ) -> SessionsResponse:
        """Fetch all sessions of an App."""
        query = session_query(q)
        sessions, page = await service.list_sessions(reading.conn, reading.app, query, now_ms())
        return SessionsResponse(SessionsData(sessions), page)

    @get("/{session_id:str}", operation_id="GetSessionDetails", responses=READ_ERRORS)
    async def get_session_details(
        self,
        reading: NamedDependency[AppReading],
        session_id: FromPath[str],
        include_breakout_rooms: Q = None,
    ) -> SessionResponse:
        """Fetch details of a session."""
        rooms = flag(
            _present(include_breakout_rooms=include_breakout_rooms), "include_breakout_rooms"
        )
        session = await service.get_session(reading.conn, reading.app, session_id, rooms, now_ms())
        return SessionResponse(session)

    @get(
        "/{session_id:str}/participants",
        operation_id="GetSessionParticipants",
        responses=READ_ERRORS,
        dependencies={"req": Provide(provide_participants_request, sync_to_thread=False)},
    )
    async def get_session_participants(
        self,
        reading: NamedDependency[AppReading],
        session_id: FromPath[str],
        req: NamedDependency[Given],
    ) -> ParticipantsResponse:
        """Fetch the participants of a session (raw peers, or consolidated people)."""
        request = participants_request(req)
        rows, page = await service.list_participants(
            reading.conn, reading.app, session_id, request, now_ms()
        )
        return ParticipantsResponse(ParticipantsData(rows, page))

    @get(
        "/{session_id:str}/participants/{participant_id:str}",
        operation_id="GetParticipantDetails",
        responses=READ_ERRORS,
    )
    async def get_session_participant_details(
        self,
        reading: NamedDependency[AppReading],
        session_id: FromPath[str],
        participant_id: FromPath[str],
        include_peer_events: Q = None,
        filters: Q = None,
    ) -> ParticipantResponse:
        """Fetch a participant (peer) of a session."""
        events = flag(_present(include_peer_events=include_peer_events), "include_peer_events")
        row = await service.get_participant(
            reading.conn, reading.app, session_id, participant_id, events, now_ms()
        )
        return ParticipantResponse(ParticipantData(row))
