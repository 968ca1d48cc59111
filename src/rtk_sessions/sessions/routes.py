"""The four session read routes of the RealtimeKit Sessions API (docs/api.md)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, Parameter

from rtk_sessions.auth.deps import read_access
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.http import error_responses
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.sessions import service
from rtk_sessions.sessions.queries import (
    ParticipantsRequest,
    flag,
    participants_request,
    session_query,
)
from rtk_sessions.sessions.repo import SessionQuery
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


def _present(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


def provide_session_query(
    app: NamedDependency[AppRef],
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
) -> SessionQuery:
    del app  # only there so that authentication (401/403) comes before query errors (400)
    return session_query(_present(**locals()))


def provide_participants_request(
    app: NamedDependency[AppRef],
    page_no: Q = None,
    per_page: Q = None,
    search: Annotated[
        str | None, Parameter(description="peer id, user id, custom id or name")
    ] = None,
    sort_by: Annotated[str | None, Parameter(description="joinedAt (default) | duration")] = None,
    sort_order: Annotated[str | None, Parameter(description="ASC (default) | DESC")] = None,
    include_peer_events: Q = None,
    view: Annotated[str | None, Parameter(description="raw (default) | consolidated")] = None,
) -> ParticipantsRequest:
    del app  # only there so that authentication (401/403) comes before query errors (400)
    return participants_request(_present(**locals()))


class SessionsController(Controller):
    path = "/sessions"
    tags = ["sessions"]
    dependencies = {"app": Provide(read_access)}

    @get(
        "/",
        operation_id="GetSessions",
        responses=READ_ERRORS,
        dependencies={"q": Provide(provide_session_query, sync_to_thread=False)},
    )
    async def get_sessions(
        self,
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
        q: NamedDependency[SessionQuery],
    ) -> SessionsResponse:
        """Fetch all sessions of an App."""
        async with rtk.db.read() as conn:
            sessions, page = await service.list_sessions(conn, app, q, now_ms())
        return SessionsResponse(SessionsData(sessions), page)

    @get("/{session_id:str}", operation_id="GetSessionDetails", responses=READ_ERRORS)
    async def get_session_details(
        self,
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
        session_id: FromPath[str],
        include_breakout_rooms: Q = None,
    ) -> SessionResponse:
        """Fetch details of a session."""
        rooms = flag(
            _present(include_breakout_rooms=include_breakout_rooms), "include_breakout_rooms"
        )
        async with rtk.db.read() as conn:
            session = await service.get_session(conn, app, session_id, rooms, now_ms())
        return SessionResponse(session)

    @get(
        "/{session_id:str}/participants",
        operation_id="GetSessionParticipants",
        responses=READ_ERRORS,
        dependencies={"req": Provide(provide_participants_request, sync_to_thread=False)},
    )
    async def get_session_participants(
        self,
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
        session_id: FromPath[str],
        req: NamedDependency[ParticipantsRequest],
    ) -> ParticipantsResponse:
        """Fetch the participants of a session (raw peers, or consolidated people)."""
        async with rtk.db.read() as conn:
            rows, page = await service.list_participants(conn, app, session_id, req, now_ms())
        return ParticipantsResponse(ParticipantsData(rows, page))

    @get(
        "/{session_id:str}/participants/{participant_id:str}",
        operation_id="GetParticipantDetails",
        responses=READ_ERRORS,
    )
    async def get_session_participant_details(
        self,
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
        session_id: FromPath[str],
        participant_id: FromPath[str],
        include_peer_events: Q = None,
        filters: Q = None,
    ) -> ParticipantResponse:
        """Fetch a participant (peer) of a session."""
        events = flag(_present(include_peer_events=include_peer_events), "include_peer_events")
        async with rtk.db.read() as conn:
            row = await service.get_participant(
                conn, app, session_id, participant_id, events, now_ms()
            )
        return ParticipantResponse(ParticipantData(row))
