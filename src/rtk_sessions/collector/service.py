"""Live rtcstats streams: a socket's credential, its streams, and their flushes.

A stream is one dump: every socket of rtcstats-js or the legacy client, every
`statsSessionId` of a Jitsi socket. Its lines are buffered and, every RTK_RTCSTATS_FLUSH
seconds (or once the buffer is large), flushed: first the new lines become the next chunk
blob of the dump, then the events they yield are stored and the stream row updated in one
write transaction. So the dump always holds at least what was ingested, and a re-upload of
it adds nothing (docs/rtcstats-live.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.auth import repo as auth_repo
from rtk_sessions.auth import service as auth_service
from rtk_sessions.auth.service import Credentials
from rtk_sessions.collector import repo
from rtk_sessions.collector.identity import (
    STATS_SESSION_ID,
    Family,
    Located,
    Who,
    client_address,
    client_type,
    page_segment,
    recorded_url,
    who_from_jitsi,
    who_from_legacy,
    who_from_query,
)
from rtk_sessions.collector.repo import StreamRow
from rtk_sessions.collector.tokens import (
    StreamClaims,
    TokenRefused,
    looks_like_jwt,
    mint,
    new_secret,
    unverified_app,
    verify,
)
from rtk_sessions.ingest import service as ingest_service
from rtk_sessions.ingest.rtcstats import DumpError, DumpReader
from rtk_sessions.ingest.rtcstats_lines import Unusable, decode_line
from rtk_sessions.ingest.schemas import ValidEvent
from rtk_sessions.ingest.validation import validate_events
from rtk_sessions.kit.aio import uninterrupted
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.errors import BadRequest, NotFound, RtkError, Unauthorized
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.quality.service import enqueue_reports

log = logging.getLogger("rtk_sessions.collector")

POLICY = 1008  # WebSocket close codes
TOO_BIG = 1009
TRY_LATER = 1013
INTERNAL = 1011
NORMAL = 1000
FLUSH_BYTES = 256 * 1024  # a stream's buffer is flushed at once beyond this
REPORT_EVERY_MS = 30_000
HEARTBEAT_MS = 60_000  # an open stream's row is stamped at least this often, lines or not
ABANDONED_AFTER_MS = 5 * 60_000  # an open stream not stamped for this long lost its process
HANDSHAKE = b'{"type":"sn","body":{"value":0,"state":"initial"}}'
_ENVELOPE = msgspec.json.Decoder()
_ENCODE = msgspec.json.Encoder()


class Refused(Exception):
    """Close the socket with `code` and `reason` (short; never the credential)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason[:120]


class Channel(Protocol):
    """The socket, as the collector needs it."""

    async def receive(self) -> str | bytes | None: ...  # None: the client closed

    async def send_text(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...

    @property
    def close_code(self) -> int | None: ...  # the client's, once it closed


@dataclass(frozen=True)
class Access:
    """Who the socket acts for: an app of an account, and the peer a signed token names."""

    account_id: str
    app_id: str
    who: Who | None


# --- the credential --------------------------------------------------------------------


async def authorize(
    state: AppState, located: Located, query: dict[str, str], address: str
) -> Access:
    """The socket's access, or Refused (1008 naming the failure, 1013 when rate-limited)."""
    try:
        await state.limits.check_address(address)
    except RtkError:
        raise Refused(TRY_LATER, "too many failed authentications; retry later") from None
    credential = located.credential
    if credential is None:
        raise Refused(
            POLICY,
            "no credential: put it in the path (/ingest/v1/rtcstats/t/<token>/…), "
            "?rtcstats-token= or Authorization: Bearer",
        )
    try:
        if looks_like_jwt(credential):
            return await _signed_access(state, credential)
        return await _token_access(state, credential, query)
    except Refused:
        with contextlib.suppress(RtkError):
            await state.limits.count_failure(address)
        raise


async def _signed_access(state: AppState, token: str) -> Access:
    try:
        account_id, app_id = unverified_app(token)
        async with state.db.read() as conn:
            secret = await repo.secret_of_app(conn, account_id, app_id)
        if secret is None:
            raise TokenRefused("token: the app has no rtcstats signing secret")
        now_s = now_ms() // 1000
        max_ttl = int(state.settings.rtcstats_jwt_max_ttl)
        claims: StreamClaims = verify(token, secret, now_s=now_s, max_ttl_s=max_ttl)
    except TokenRefused as exc:
        raise Refused(POLICY, str(exc)) from None
    return Access(claims.account_id, claims.app_id, claims.who)


async def _token_access(state: AppState, token: str, query: dict[str, str]) -> Access:
    try:
        async with state.db.read() as conn:
            principal = await auth_service.authenticate(conn, Credentials(f"Bearer {token}", False))
    except Unauthorized:
        raise Refused(POLICY, "invalid or revoked token") from None
    if not principal.can("ingest"):
        raise Refused(POLICY, "the token lacks the ingest permission")
    app_id = query.get("app_id") or principal.app_id
    if app_id is None:
        raise Refused(POLICY, "the token is not limited to one app: add ?app_id=<app>")
    if principal.app_id is not None and principal.app_id != app_id:
        raise Refused(POLICY, "the token is limited to another app than ?app_id")
    try:
        auth_service.check_ids(app_id=app_id)
        await state.limits.spend(principal.token_id, "ingest")
    except RtkError as exc:
        code = TRY_LATER if exc.status == 429 else POLICY
        raise Refused(
            code, "app_id is not a valid id" if code == POLICY else "rate limited"
        ) from None
    await auth_service.record_use(state.db, principal, now_ms())
    return Access(principal.account_id, app_id, None)


async def rotate_secret(db: Database, account_id: str, app_id: str) -> None:
    """A new signing secret for the app's stream tokens (the app is created if missing);
    tokens signed with the old one stop working. The secret itself is never shown."""
    auth_service.check_ids(account_id=account_id, app_id=app_id)
    now = now_ms()
    async with db.write() as conn:
        pk = await auth_repo.ensure_app(conn, account_id, app_id, now)
        await repo.replace_secret(conn, pk, new_secret(), now)


async def mint_stream_token(
    db: Database, account_id: str, app_id: str, who: Who, ttl_s: int, max_ttl_s: int
) -> tuple[str, int]:
    """A stream token for one peer in one meeting, signed with the app's secret (generated
    on first need), and when it expires (epoch seconds)."""
    auth_service.check_ids(account_id=account_id, app_id=app_id)
    if not 0 < ttl_s <= max_ttl_s:
        raise BadRequest(f"ttl must be 1 to {max_ttl_s} seconds (RTK_RTCSTATS_JWT_MAX_TTL)")
    now = now_ms()
    async with db.write() as conn:
        pk = await auth_repo.ensure_app(conn, account_id, app_id, now)
        secret = await repo.secret_of_pk(conn, pk)
        if secret is None:
            secret = new_secret()
            await repo.replace_secret(conn, pk, secret, now)
    now_s = now // 1000
    token = mint(secret, account_id=account_id, app_id=app_id, who=who, now_s=now_s, ttl_s=ttl_s)
    return token, now_s + ttl_s


# --- streams ---------------------------------------------------------------------------


def chunk_key(stream_id: str, n: int) -> str:
    return f"rtcstats/streams/{stream_id}/{n:06d}"


@dataclass
class Stream:
    """One dump being received: its row as last flushed, its buffer, its reader."""

    row: StreamRow
    family: Family
    who: Who | None
    pending: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0
    last_message: float = field(default_factory=time.monotonic)
    last_message_ms: int = field(default_factory=now_ms)
    reader: DumpReader | None = None
    unreadable: bool = False  # its first lines are not a dump the importer reads: no events
    replay_ingested: bool = False  # chunks stored before this process: already ingested
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    owner: object = None
    ended: bool = False
    reported_at: int = 0
    # A flush stored its chunk and read its lines but its transaction failed: its events,
    # stored by the next flush with the row (which already counts them).
    unrecorded: list[ValidEvent] | None = None

    def add(self, line: bytes) -> None:
        self.pending.append(line)
        self.pending_bytes += len(line) + 1
        self.last_message = time.monotonic()
        self.last_message_ms = now_ms()

    @property
    def size(self) -> int:
        return self.row.bytes + self.pending_bytes


_LIVE: dict[str, Stream] = {}  # this process's streams by id (a reconnect takes one over)


@dataclass
class _Flushed:
    lines: int
    written: int
    last_seq: int | None
    valid: list[ValidEvent]
    events: int


class Collector:
    """One socket: its access, family and streams; `run` is its whole life."""

    def __init__(
        self,
        state: AppState,
        channel: Channel,
        access: Access,
        family: Family,
        subprotocol: str | None,
        located: Located,
        query: dict[str, str],
        headers: dict[str, str],
        address: str | None,
    ) -> None:
        self.state = state
        self.channel = channel
        self.access = access
        self.family = family
        self.subprotocol = subprotocol
        self.located = located
        self.query = query
        self.headers = headers
        self.address = address
        self.streams: dict[str, Stream] = {}  # Jitsi: by statsSessionId; others: one, ""
        self.app: AppRef | None = None
        self.sniffed = family is not Family.LEGACY
        self.settings = state.settings
        self.who = access.who or who_from_query(query)

    # -- life -------------------------------------------------------------------------

    async def run(self) -> None:
        async with self.state.db.write() as conn:
            pk = await auth_repo.ensure_app(
                conn, self.access.account_id, self.access.app_id, now_ms()
            )
        self.app = AppRef(pk, self.access.app_id)
        if self.family is Family.JITSI:
            await self.channel.send_text(HANDSHAKE.decode())
        ticker = asyncio.create_task(self._tick())
        code: int | None = None
        reason = ""
        try:
            code, reason = await self._receive_all()
        except Refused as exc:
            code, reason = exc.code, exc.reason
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            client_code = self.channel.close_code
            end_code = client_code if code is None else code
            await self._end_all(end_code)
        if code is not None:
            await self.channel.close(code, reason)

    async def _receive_all(self) -> tuple[int | None, str]:
        """Until the client closes (None) or a limit ends the socket (code, reason)."""
        idle = self.settings.rtcstats_idle_timeout
        while True:
            timeout = idle if self.family is Family.JITSI else None
            try:
                frame = await asyncio.wait_for(self.channel.receive(), timeout)
            except TimeoutError:
                return NORMAL, f"idle: no message for {idle:g} s"
            if frame is None:
                return None, ""
            data = frame.encode() if isinstance(frame, str) else frame
            if len(data) > self.settings.rtcstats_max_frame_bytes:
                return TOO_BIG, f"message over {self.settings.rtcstats_max_frame_bytes} bytes"
            if not self.sniffed:
                self.sniffed = True
                if data[:64].lstrip().startswith(b"{"):
                    self.family = Family.JITSI
            if self.family is Family.JITSI:
                await self._envelope(data)
            else:
                await self._line("", data)

    async def _tick(self) -> None:
        """Flush every RTK_RTCSTATS_FLUSH; end Jitsi streams idle for the idle timeout."""
        while True:
            await asyncio.sleep(self.settings.rtcstats_flush)
            now = time.monotonic()
            for key, stream in list(self.streams.items()):
                idle = now - stream.last_message > self.settings.rtcstats_idle_timeout
                stale = now_ms() - stream.row.last_flush_at > HEARTBEAT_MS
                try:
                    if self.family is Family.JITSI and idle:
                        await self._end(key, stream, NORMAL)
                    elif stream.pending or stale or stream.unrecorded is not None:
                        await self._flush(stream, heartbeat=stale)
                except Exception:  # the next tick flushes what came since; the socket goes on
                    log.exception("could not flush a live rtcstats stream")

    # -- frames -----------------------------------------------------------------------

    async def _envelope(self, data: bytes) -> None:
        """A Jitsi `{statsSessionId, type, data}` message, routed to its stream."""
        try:
            message = _ENVELOPE.decode(data)
        except (msgspec.DecodeError, RecursionError):
            raise Refused(POLICY, "a message is not JSON") from None
        if not isinstance(message, dict):
            raise Refused(POLICY, "a message is not a {statsSessionId, type, data} object")
        key = message.get("statsSessionId")
        if not isinstance(key, str) or not STATS_SESSION_ID.fullmatch(key):
            raise Refused(POLICY, "statsSessionId must be 1-128 of A-Z a-z 0-9 _ -")
        kind = message.get("type")
        if kind == "keepalive":
            stream = self.streams.get(key)
            if stream is not None:
                stream.last_message = time.monotonic()
            return
        if kind == "close":
            stream = self.streams.get(key)
            if stream is not None:
                await self._end(key, stream, NORMAL)
            return
        if kind not in ("identity", "stats-entry"):
            return  # unknown types are ignored, as jitsi/rtcstats-server does
        backend = client_type(self.subprotocol) != "RTCSTATS_CLIENT"
        body = message.get("data")
        if backend:
            line = _ENCODE.encode({**message, "timestamp": now_ms()})
        elif kind == "identity":
            line = _ENCODE.encode(body)
        elif isinstance(body, str):
            line = body.encode()
        else:
            return
        stream = await self._stream(key)
        if kind == "identity" and stream.who is None:
            value = body[2] if isinstance(body, list) and len(body) > 2 else body
            who = who_from_jitsi(value, page_segment(self.located.path))
            if who is not None:
                stream.who = who
        await self._add(stream, line)

    async def _line(self, key: str, data: bytes) -> None:
        """A raw array line (rtcstats-js, legacy)."""
        stream = await self._stream(key)
        head = data[:16]
        if stream.who is None and head.startswith((b'["identity"', b'["constraints"')):
            try:
                value = decode_line(data)
            except Unusable:
                value = None
            if isinstance(value, list) and len(value) > 2 and isinstance(value[0], str):
                stream.who = who_from_legacy(value[0], value[2])
        await self._add(stream, data)

    async def _add(self, stream: Stream, line: bytes) -> None:
        if stream.size + len(line) > self.settings.max_dump_bytes:
            raise Refused(TOO_BIG, f"the dump passed {self.settings.max_dump_bytes} bytes")
        stream.add(line)
        if stream.pending_bytes > FLUSH_BYTES:
            await self._flush(stream)  # without an identity yet: stored, read once it is known

    async def _stream(self, key: str) -> Stream:
        stream = self.streams.get(key)
        if stream is not None:
            return stream
        max_streams = self.settings.rtcstats_max_streams
        if len(self.streams) >= max_streams:
            raise Refused(POLICY, f"more than {max_streams} statsSessionIds on one socket")
        stream = await self._open(key)
        stream.owner = self
        self.streams[key] = stream
        _LIVE[stream.row.id] = stream
        return stream

    async def _open(self, key: str) -> Stream:
        """A new stream, or (Jitsi, same statsSessionId) the one a reconnect continues."""
        assert self.app is not None
        now = now_ms()
        if key:
            async with self.state.db.read() as conn:
                row = await repo.stream_of_session(conn, self.app.pk, key)
            if row is not None:
                return await self._continued(row)
        row = StreamRow(
            str(uuid.uuid4()), self.app.pk, self.family.value, key or None, None, None, None,
            0, 0, 0, None, 0, now, now, None, None,
        )  # fmt: skip
        async with self.state.db.write() as conn:
            if key and await repo.stream_of_session(conn, self.app.pk, key) is not None:
                raise Refused(TRY_LATER, "this statsSessionId is being opened elsewhere; retry")
            await repo.insert_stream(conn, row)
        stream = Stream(row, self.family, self.who)
        for line in self._header(now):
            stream.add(line)
        return stream

    async def _continued(self, row: StreamRow) -> Stream:
        live = _LIVE.get(row.id)
        if self.who is not None and row.peer_id is not None and row.peer_id != self.who.peer_id:
            raise Refused(POLICY, "this statsSessionId belongs to another peer")
        if live is not None:  # a reconnect while the old socket lingers or ends: take it over
            async with live.lock:  # after a flush in progress (the old socket's last one)
                live.owner = self
                live.ended = False
                live.who = live.who or self.who
            return live
        who = self.who
        if who is None and row.meeting_id is not None and row.peer_id is not None:
            who = Who(row.meeting_id, row.peer_id, row.user_label)
        stream = Stream(replace(row, ended_at=None), self.family, who)
        stream.replay_ingested = row.meeting_id is not None
        return stream

    def _header(self, now: int) -> list[bytes]:
        """The first line(s) of the dump, in the family's stored format (§ docs)."""
        url = recorded_url(self.located.path, self.located.query)
        origin = self.headers.get("origin")
        agent = self.headers.get("user-agent")
        address = client_address(self.address, self.settings.rtcstats_client_ip)
        if self.family is Family.RTCSTATS:
            meta = {
                "url": url, "origin": origin, "userAgent": agent, "startTime": now,
                "remoteAddresses": [address] if address else [],
                "clientProtocol": self.subprotocol, "fileFormat": 3,
            }  # fmt: skip
            return [b"RTCStatsDump", _ENCODE.encode(meta)]
        if self.family is Family.JITSI:
            info = {
                "path": url, "origin": origin, "url": url, "userAgent": agent,
                "clientProtocol": self.subprotocol, "clientType": client_type(self.subprotocol),
            }  # fmt: skip
            return [_ENCODE.encode(["connectionInfo", None, info, now])]
        meta = {
            "path": url, "origin": origin, "url": self.headers.get("referer"),
            "userAgent": agent, "clientProtocol": self.subprotocol, "time": now,
            "fileFormat": 2,
        }  # fmt: skip
        lines = [_ENCODE.encode(meta)]
        if address:
            lines.append(_ENCODE.encode(["publicIP", None, [address], now]))
        return lines

    # -- flushing and ending ------------------------------------------------------------

    async def _end(self, key: str, stream: Stream, code: int | None) -> None:
        self.streams.pop(key, None)
        if stream.owner is not self:
            return  # a newer socket took it over
        close: bytes | None = None
        if self.family is Family.RTCSTATS:
            close = _ENCODE.encode(["close", None, code, now_ms() - stream.last_message_ms])
        elif self.family is Family.LEGACY:
            close = _ENCODE.encode(["close", None, None, now_ms()])
        await self._flush(stream, end=(code, close))
        if stream.owner is self and _LIVE.get(stream.row.id) is stream:
            del _LIVE[stream.row.id]  # unless a reconnect took it over meanwhile

    async def _end_all(self, code: int | None) -> None:
        for key, stream in list(self.streams.items()):
            try:
                await self._end(key, stream, code)
            except Exception:
                log.exception("could not end an rtcstats stream")

    async def _flush(
        self,
        stream: Stream,
        end: tuple[int | None, bytes | None] | None = None,
        heartbeat: bool = False,
    ) -> None:
        """Store the buffered lines as the next chunk, then their events and the row. It runs
        to its end even if the socket's task is cancelled (its close stops the ticker; a
        shutdown stops the socket): stopped between the two, the next flush would store its
        chunk under the same number and the lines and events taken would be lost.

        A flush that fails leaves its work to the next: lines not stored go back to the
        buffer; a chunk stored whose transaction failed is counted in the row kept here, and
        its events wait in `unrecorded`."""
        await uninterrupted(self._flush_now(stream, end, heartbeat))

    async def _flush_now(
        self, stream: Stream, end: tuple[int | None, bytes | None] | None, heartbeat: bool
    ) -> None:
        async with stream.lock:
            if stream.ended:
                return
            if end is not None and stream.owner is not self:
                end = None  # a reconnect took the stream over while this waited: not its end
            taken, stream.pending, stream.pending_bytes = stream.pending, [], 0
            lines = [*taken, end[1]] if end is not None and end[1] is not None else taken
            if not lines and end is None and not heartbeat and stream.unrecorded is None:
                return
            now = now_ms()
            who = stream.who
            try:
                done = await asyncio.to_thread(
                    self._store_and_read, stream, lines, who, now, end is not None
                )
            except Exception:
                stream.pending[:0] = taken  # not stored: the next flush stores them
                stream.pending_bytes += sum(len(line) + 1 for line in taken)
                raise
            valid = [*(stream.unrecorded or ()), *done.valid]
            row = stream.row
            values: dict[str, Any] = {
                "chunks": row.chunks + (1 if done.written else 0),
                "bytes": row.bytes + done.written,
                "lines": row.lines + done.lines,
                "last_seq": done.last_seq,
                "events": row.events + done.events,
                "last_flush_at": now,
                "ended_at": now if end is not None else None,
                "close_code": end[0] if end is not None else None,
            }
            if who is not None:
                values.update(meeting_id=who.meeting_id, peer_id=who.peer_id, user_label=who.user)
            stream.row = replace(row, **values)  # its chunk is stored and its lines read
            try:
                async with self.state.db.write() as conn:
                    if valid:
                        await ingest_service.accept(
                            conn, self.access.account_id, self.access.app_id, valid, now,
                            self.settings.session_end_grace_ms,
                        )  # fmt: skip
                    await repo.update_stream(conn, row.id, **values)
            except Exception:
                stream.unrecorded = valid
                raise
            stream.unrecorded = None
            if end is not None:
                stream.ended = True
        if valid and who is not None and (end or now - stream.reported_at > REPORT_EVERY_MS):
            stream.reported_at = now
            await enqueue_reports(
                self.state, self.access.account_id, self.access.app_id, [who.peer_id]
            )

    def _store_and_read(
        self, stream: Stream, lines: list[bytes], who: Who | None, now: int, final: bool
    ) -> _Flushed:
        """In a thread, under the stream's lock: drop Jitsi lines already received (by
        sequence number), store the rest as the next chunk, read them into events."""
        last_seq = stream.row.last_seq
        kept: list[bytes] = []
        for raw in lines:
            seq = _sequence_number(raw) if stream.family is Family.JITSI else None
            if seq is not None:
                if last_seq is not None and seq <= last_seq:
                    continue
                last_seq = seq
            kept.append(raw)
        written = 0
        if kept:
            data = b"".join(line + b"\n" for line in kept)
            self.state.blobs.put_bytes(
                chunk_key(stream.row.id, stream.row.chunks), data, "application/x-ndjson"
            )
            written = len(data)
        events: list[Any] = []
        if who is not None:
            if stream.reader is None:
                stream.reader = DumpReader(who.peer_id, who.meeting_id)
                try:
                    replayed = self._replay(stream)
                except Exception:
                    stream.reader = None  # the next flush reads the stored chunks again
                    raise
                if not stream.replay_ingested:
                    events += replayed
            lineno = stream.row.lines
            for raw in kept:
                lineno += 1
                _feed(stream, lineno, raw)
            events += stream.reader.take_events()
            if final and not stream.unreadable:
                events += stream.reader.finish_events()
        valid, errors = validate_events(events, now) if events else ([], [])
        if errors:
            log.warning("a live rtcstats stream yielded %d events that are not valid", len(errors))
        return _Flushed(len(kept), written, last_seq, valid, len(valid))

    def _replay(self, stream: Stream) -> list[Any]:
        """Feed the reader the chunks already stored (a stream continued in this process,
        or one whose identity became known only now); returns the events they yield."""
        assert stream.reader is not None
        lineno = 0
        for n in range(stream.row.chunks):
            data = self.state.blobs.read_bytes(chunk_key(stream.row.id, n))
            for raw in data.split(b"\n"):
                if raw:
                    lineno += 1
                    _feed(stream, lineno, raw)
        return stream.reader.take_events()


def _feed(stream: Stream, lineno: int, raw: bytes) -> None:
    """One line to the stream's reader; a header the importer refuses stops the reading (the
    dump is still stored)."""
    if stream.unreadable or stream.reader is None:
        return
    try:
        stream.reader.feed(lineno, raw)
    except DumpError:
        stream.unreadable = True
        log.warning("a live rtcstats stream's dump cannot be read; it is stored, not ingested")


def _sequence_number(raw: bytes) -> int | None:
    """Item 5 of a Jitsi `[method, pc, value, timestamp, sequence]` line, if it has one."""
    try:
        value = decode_line(raw)
    except Unusable:
        return None
    if isinstance(value, list) and len(value) >= 5 and type(value[4]) is int:
        return int(value[4])
    return None


# --- reading streams back -------------------------------------------------------------


async def list_streams(
    conn: AsyncConnection,
    app: AppRef,
    peer_id: str | None,
    meeting_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[StreamRow], int]:
    return await repo.list_streams(
        conn, app.pk, peer_id=peer_id, meeting_id=meeting_id, limit=limit, offset=offset
    )


async def find_stream(conn: AsyncConnection, app: AppRef, stream_id: str) -> StreamRow:
    row = await repo.get_stream(conn, app.pk, stream_id)
    if row is None:
        raise NotFound(f"No rtcstats stream with id {stream_id[:64]} in app {app.app_id}.")
    return row


async def stream_dump(state: AppState, row: StreamRow) -> AsyncIterator[bytes]:
    """The stream's dump as stored so far: its chunks in order, each read off the event
    loop (a download holds one chunk at a time)."""
    for n in range(row.chunks):
        yield await asyncio.to_thread(state.blobs.read_bytes, chunk_key(row.id, n))


async def end_abandoned_streams(state: AppState, now: int) -> int:
    """Upkeep: open streams whose process stopped stamping them (it died) are marked ended,
    with close code 1006; a reconnect of a Jitsi stream opens it again."""
    async with state.db.write() as conn:
        ended = await repo.end_abandoned(conn, now - ABANDONED_AFTER_MS, now)
    if ended:
        log.info("marked %d abandoned live rtcstats streams ended", ended)
    return ended
