"""Live rtcstats: the WebSocket every rtcstats client family connects to, and the HTTP routes
that list streams and download their dumps (docs/rtcstats-live.md)."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, WebSocket, get, post, websocket
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, Parameter
from litestar.response import Stream

from rtk_sessions.auth.deps import AppReading, app_reading, require
from rtk_sessions.collector import service
from rtk_sessions.collector.identity import (
    PREFIX,
    checked_who,
    family_of,
    locate_credential,
    query_values,
)
from rtk_sessions.collector.repo import StreamRow
from rtk_sessions.kit.errors import BadRequest
from rtk_sessions.kit.http import error_responses, read_body_limited
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.sessions.queries import MAX_PER_PAGE, whole_number


class _Socket:
    """Litestar's WebSocket as the collector's Channel."""

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self.socket = socket
        self.close_code: int | None = None

    async def receive(self) -> str | bytes | None:
        event = await self.socket.receive()
        if event["type"] == "websocket.disconnect":
            self.close_code = int(event.get("code") or 1005)
            return None
        text = event.get("text")
        if isinstance(text, str):
            return text
        data = event.get("bytes")
        return data if isinstance(data, bytes) else b""

    async def send_text(self, text: str) -> None:
        await self.socket.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.socket.close(code, reason)


@websocket([PREFIX, PREFIX + "/{rest:path}"], name="rtcstats-socket")
async def rtcstats_socket(socket: WebSocket[Any, Any, Any], rtk: NamedDependency[AppState]) -> None:
    """Accept (echoing the first offered subprotocol), check the credential before reading
    anything, then collect until the socket ends."""
    scope = socket.scope
    offered = list(scope.get("subprotocols") or [])
    subprotocol = offered[0] if offered else None
    await socket.accept(subprotocols=subprotocol)
    channel = _Socket(socket)
    raw_path = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = bytes(scope.get("query_string") or b"").decode("latin-1")
    headers = {k: v for k, v in socket.headers.items() if k in ("origin", "user-agent", "referer")}
    located = locate_credential(raw_path, query, socket.headers.get("authorization"))
    values = query_values(located.query)
    address = socket.client.host if socket.client else None
    try:
        access = await service.authorize(rtk, located, values, address or "unknown")
    except service.Refused as exc:
        await channel.close(exc.code, exc.reason)
        return
    collector = service.Collector(
        rtk, channel, access, family_of(subprotocol), subprotocol, located, values, headers,
        address,
    )  # fmt: skip
    await collector.run()


class StreamOut(msgspec.Struct):
    id: str
    family: str
    stats_session_id: str | None
    meeting_id: str | None
    peer_id: str | None
    user: str | None
    identified: bool
    started_at: str
    last_flush_at: str
    ended_at: str | None
    close_code: int | None
    lines: int
    bytes: int
    events: int


class StreamsData(msgspec.Struct):
    streams: list[StreamOut]
    total_count: int


class StreamsResponse(msgspec.Struct):
    data: StreamsData
    success: bool = True


def _stream_out(r: StreamRow) -> StreamOut:
    return StreamOut(
        r.id,
        r.family,
        r.client_session,
        r.meeting_id,
        r.peer_id,
        r.user_label,
        r.peer_id is not None,
        to_iso(r.started_at),
        to_iso(r.last_flush_at),
        to_iso(r.ended_at) if r.ended_at is not None else None,
        r.close_code,
        r.lines,
        r.bytes,
        r.events,
    )


class RtcstatsStreamsController(Controller):
    path = "/ingest/v1/accounts/{account_id:str}/apps/{app_id:str}/rtcstats/streams"
    tags = ["ingest"]
    dependencies = {"reading": Provide(app_reading)}

    @get(
        "/",
        operation_id="ListRtcstatsStreams",
        responses=error_responses(400, 401, 403, 404),
    )
    async def list_streams(
        self,
        reading: NamedDependency[AppReading],
        peer_id: Annotated[str | None, Parameter(description="only this peer's streams")] = None,
        meeting_id: Annotated[
            str | None, Parameter(description="only this meeting's streams")
        ] = None,
        limit: Annotated[str | None, Parameter(description="1–100, default 100")] = None,
        offset: Annotated[str | None, Parameter(description="≥ 0, default 0")] = None,
    ) -> StreamsResponse:
        """Live rtcstats streams received for the app, oldest first."""
        page = {k: v for k, v in {"limit": limit, "offset": offset}.items() if v is not None}
        rows, total = await service.list_streams(
            reading.conn,
            reading.app,
            peer_id,
            meeting_id,
            whole_number(page, "limit", MAX_PER_PAGE, 1, MAX_PER_PAGE),
            whole_number(page, "offset", 0, 0, None),
        )
        return StreamsResponse(StreamsData([_stream_out(r) for r in rows], total))

    @get(
        "/{stream_id:str}/dump",
        operation_id="DownloadRtcstatsStreamDump",
        responses=error_responses(400, 401, 403, 404),
        media_type="application/x-ndjson",
    )
    async def download_dump(
        self,
        rtk: NamedDependency[AppState],
        reading: NamedDependency[AppReading],
        stream_id: FromPath[str],
    ) -> Stream:
        """The stream's dump as stored so far, in its client family's file format; upload it
        to …/peers/{peer_id}/rtcstats to import it again."""
        row = await service.find_stream(reading.conn, reading.app, stream_id)
        await reading.end()  # the blobs are read after the transaction
        disposition = f'attachment; filename="rtcstats-{row.id}.jsonl"'
        return Stream(
            service.stream_dump(rtk, row),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": disposition},
        )


_TOKEN_BODY = '{"meeting_id": …, "peer_id": …, "user"?: …, "ttl_seconds"?: …}'


class StreamTokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    meeting_id: str
    peer_id: str
    user: str | None = None
    ttl_seconds: int = 3600


class StreamToken(msgspec.Struct):
    token: str
    expires_at: str
    path: str


class StreamTokenResponse(msgspec.Struct):
    data: StreamToken
    success: bool = True


class RtcstatsTokensController(Controller):
    path = "/ingest/v1/accounts/{account_id:str}/apps/{app_id:str}/rtcstats/tokens"
    tags = ["ingest"]

    @post(
        "/",
        operation_id="CreateRtcstatsStreamToken",
        status_code=200,
        responses=error_responses(400, 401, 403, 413),
    )
    async def create_stream_token(
        self,
        request: Request[Any, Any, Any],
        rtk: NamedDependency[AppState],
        account_id: FromPath[str],
        app_id: FromPath[str],
    ) -> StreamTokenResponse:
        """A stream token (HS256 JWT) for one peer's live rtcstats socket, for an application
        server holding an `ingest` token to hand to a browser. Body: `{"meeting_id",
        "peer_id", "user"?, "ttl_seconds"?}` (default 3600)."""
        await require(rtk, request, account_id, app_id, "ingest")
        body = await read_body_limited(request, 4096, "The request body")
        try:
            data = msgspec.json.decode(body, type=StreamTokenRequest)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise BadRequest(f"The body must be {_TOKEN_BODY}: {exc}") from None
        who = checked_who(data.meeting_id, data.peer_id, data.user)
        if who is None:
            raise BadRequest("meeting_id and peer_id must be 1–128 of A-Z a-z 0-9 . _ : -")
        max_ttl = int(rtk.settings.rtcstats_jwt_max_ttl)
        token, expires_s = await service.mint_stream_token(
            rtk.db, account_id, app_id, who, data.ttl_seconds, max_ttl
        )
        path = f"{PREFIX}/t/{token}"
        return StreamTokenResponse(StreamToken(token, to_iso(expires_s * 1000), path))
