"""The active session of a meeting (`client.realtime_kit.active_session`, docs/api.md).

Reading it is answered from the derived sessions. Its write calls (kick participants, create a
poll) act on a call in progress, which only a media server can do: they are refused with 501
after the usual authentication, so that a client learns the reason rather than a 404.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from rtk_sessions.auth.deps import AppReading, admin_access, app_reading
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.errors import NotSupported
from rtk_sessions.kit.http import error_responses
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.sessions import service
from rtk_sessions.sessions.schemas import SessionResponse

_NO_MEDIA = (
    "{action} acts on the live call, which needs a media server; rtk-sessions keeps meeting "
    "records only. Call your media server (or RealtimeKit) for this."
)
_WRITE_ERRORS = error_responses(400, 401, 403, 404, 501)


class ActiveSessionController(Controller):
    path = "/meetings/{meeting_id:str}/active-session"
    tags = ["active session"]

    @get(
        "/",
        operation_id="GetActiveSession",
        responses=error_responses(400, 401, 403, 404),
        dependencies={"reading": Provide(app_reading)},
    )
    async def get_active_session(
        self, reading: NamedDependency[AppReading], meeting_id: FromPath[str]
    ) -> SessionResponse:
        """The meeting's LIVE session, with its breakout rooms; 404 when it has none."""
        found = await service.active_session(reading.conn, reading.app, meeting_id, now_ms())
        return SessionResponse(found)

    @post(
        "/kick-all",
        operation_id="KickAllParticipants",
        status_code=501,
        responses=_WRITE_ERRORS,
        dependencies={"app": Provide(admin_access)},
    )
    async def kick_all_participants(self, app: NamedDependency[AppRef]) -> Any:
        """Not supported: needs a media server (501)."""
        raise NotSupported(_NO_MEDIA.format(action="Kicking participants"))

    @post(
        "/kick",
        operation_id="KickParticipants",
        status_code=501,
        responses=_WRITE_ERRORS,
        dependencies={"app": Provide(admin_access)},
    )
    async def kick_participants(self, app: NamedDependency[AppRef]) -> Any:
        """Not supported: needs a media server (501)."""
        raise NotSupported(_NO_MEDIA.format(action="Kicking participants"))

    @post(
        "/poll",
        operation_id="CreatePoll",
        status_code=501,
        responses=_WRITE_ERRORS,
        dependencies={"app": Provide(admin_access)},
    )
    async def create_poll(self, app: NamedDependency[AppRef]) -> Any:
        """Not supported: needs a media server (501)."""
        raise NotSupported(_NO_MEDIA.format(action="Creating a poll"))
