"""End to end: live rtcstats over a WebSocket, from each client family, against a real server.

Frames are what the clients send (docs/rtcstats-live.md): Jitsi envelopes
built from rtcstats-server's own test dump with sequence numbers appended, legacy raw arrays.
While a socket is open its telemetry reaches the peer report (through the official SDK,
strict); once closed, the stream's dump downloaded from the API imports again as nothing new.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cloudflare import Cloudflare
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rtcstats_frames import rtcstats_com_frames
from support import DATA, Server, own_database, running_server

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-live"
DUMP = DATA / "rtcstats" / "dumps" / "google-standard-stats-sfu.jsonl"
IDLE_S = 5.0
_TOKENS: dict[tuple[str, str], str] = {}


def read_token(server: Server, app: str) -> str:
    """One read token per app (each made by the CLI, which takes a while)."""
    if (server.base_url, app) not in _TOKENS:
        _TOKENS[server.base_url, app] = server.token(ACCOUNT, "read", app=app)
    return _TOKENS[server.base_url, app]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: short flush interval and idle timeout."""
    directory = tmp_path_factory.mktemp("live")
    with (
        own_database(directory) as url,
        running_server(
            directory,
            url,
            RTK_SWEEP_INTERVAL="3600",
            RTK_AUTH_FAILURE_LIMIT="off",
            RTK_RTCSTATS_FLUSH="0.3",
            RTK_RTCSTATS_IDLE_TIMEOUT=str(IDLE_S),
        ) as server,
    ):
        yield server


def ws_url(server: Server, path: str) -> str:
    return server.base_url.replace("http://", "ws://") + path


def dump_lines() -> list[list[Any]]:
    """The test dump's lines after its connectionInfo line (4 items: ..., timestamp)."""
    lines = [json.loads(x) for x in DUMP.read_text().splitlines() if x.strip()]
    return lines[1:]


def streams(server: Server, app: str, **query: str) -> list[dict[str, Any]]:
    token = read_token(server, app)
    resp = httpx.get(
        f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/rtcstats/streams",
        params=query, headers={"Authorization": f"Bearer {token}"}, timeout=30,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    return list(resp.json()["data"]["streams"])


async def wait_for_stream(
    server: Server, app: str, check: Any, timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = await asyncio.to_thread(streams, server, app)
        for s in found:
            if check(s):
                return s
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.2)


def report(server: Server, app: str, peer: str) -> Any:
    client = Cloudflare(
        api_token=read_token(server, app),
        base_url=f"{server.base_url}/client/v4",
        _strict_response_validation=True,
    )
    resp = client.realtime_kit.sessions.get_participant_data_from_peer_id(
        peer, account_id=ACCOUNT, app_id=app
    )
    assert resp.data is not None and resp.data.participant is not None
    return resp.data.participant.peer_report


def has_quality(peer_report: Any) -> bool:
    q = peer_report.quality if peer_report is not None else None
    return bool(q and (q.audio_producer or q.video_consumer or q.audio_consumer))


def raw_report(server: Server, app: str, peer: str) -> Any:
    resp = httpx.get(
        f"{server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{app}"
        f"/sessions/peer-report/{peer}",
        headers={"Authorization": f"Bearer {read_token(server, app)}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["participant"]["peer_report"]


def download(server: Server, app: str, stream_id: str) -> bytes:
    token = read_token(server, app)
    resp = httpx.get(
        f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/rtcstats/streams/"
        f"{stream_id}/dump",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return resp.content


def reimport(server: Server, app: str, peer: str, data: bytes) -> dict[str, Any]:
    token = server.token(ACCOUNT, "ingest", app=app)
    resp = httpx.post(
        f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/peers/{peer}/rtcstats",
        content=data, headers={"Authorization": f"Bearer {token}"}, timeout=60,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["data"])


def assert_reimport_adds_nothing(server: Server, app: str, peer: str, stream_id: str) -> bytes:
    before = raw_report(server, app, peer)
    data = download(server, app, stream_id)
    counts = reimport(server, app, peer, data)
    assert counts["accepted"] == 0 and counts["duplicates"] > 0, counts
    assert raw_report(server, app, peer) == before  # the report, not the live duration
    return data


def entry(sid: str, line: list[Any], seq: int) -> str:
    data = json.dumps([*line[:4], seq], separators=(",", ":"))
    return json.dumps({"statsSessionId": sid, "type": "stats-entry", "data": data})


def identity(sid: str, meeting: str, peer: str, ts: int) -> str:
    body = {"confName": meeting, "endpointId": peer, "displayName": "Ada", "meetingUniqueId": "u1"}
    return json.dumps(
        {"statsSessionId": sid, "type": "identity", "data": ["identity", None, body, ts, 0]}
    )


@contextlib.asynccontextmanager
async def keeping_alive(ws: ClientConnection, *sids: str) -> AsyncIterator[None]:
    """Jitsi keepalives every second while the block runs, as the client sends them."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(1)
            for sid in sids:
                await ws.send(json.dumps({"statsSessionId": sid, "type": "keepalive"}))

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def closed_with(ws: ClientConnection, timeout: float = 10) -> tuple[int | None, str]:
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), timeout)
    assert ws.close_code is not None
    return ws.close_code, ws.close_reason or ""


# --- Jitsi --------------------------------------------------------------------------------


async def test_jitsi_stream_reconnect_report_and_dump(live: Server) -> None:
    meeting, peer, sid = "room-a", "ep-a", uuid.uuid4().hex
    app = live.app_with_joined_peer(ACCOUNT, peer, meeting)
    token = live.token(ACCOUNT, "ingest", app=app)
    lines = dump_lines()
    half = len(lines) - 12  # the dump's stats start in its second half
    path = f"/ingest/v1/rtcstats/t/{token}/{meeting}?statsSessionId={sid}&isReconnect=false"
    async with connect(ws_url(live, path), subprotocols=["3.1_STANDARD"]) as ws:
        assert ws.subprotocol == "3.1_STANDARD"
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))  # before we send anything
        assert hello == {"type": "sn", "body": {"value": 0, "state": "initial"}}
        await ws.send(identity(sid, meeting, peer, lines[0][3]))
        for seq, line in enumerate(lines[:half], start=1):
            await ws.send(entry(sid, line, seq))
        async with keeping_alive(ws, sid):  # a slow machine must not make it idle
            first = await wait_for_stream(live, app, lambda s: s["lines"] == 2 + half)
            assert (first["peer_id"], first["meeting_id"]) == (peer, meeting)
            assert first["family"] == "jitsi" and first["stats_session_id"] == sid
            assert first["ended_at"] is None
            peer_report = await asyncio.to_thread(report, live, app, peer)
            assert has_quality(peer_report)  # while the socket is open
        await ws.close(1001)  # page reload: the client reconnects
    ended = await wait_for_stream(live, app, lambda s: s["ended_at"] is not None)
    assert ended["close_code"] == 1001
    path = f"/ingest/v1/rtcstats/t/{token}/{meeting}?statsSessionId={sid}&isReconnect=true"
    async with connect(ws_url(live, path), subprotocols=["3.1_STANDARD"]) as ws:
        json.loads(await asyncio.wait_for(ws.recv(), 5))
        resent = max(0, half - 10)  # the client resends its buffer: the last entries again
        for seq, line in enumerate(lines[resent:], start=resent + 1):
            await ws.send(entry(sid, line, seq))
        await ws.close(3001)  # conference left
    done = await wait_for_stream(live, app, lambda s: s["close_code"] == 3001)
    [only] = streams(live, app)
    assert only["id"] == ended["id"] == done["id"]
    assert done["lines"] == 2 + len(lines)  # connectionInfo + identity + entries, once each
    data = assert_reimport_adds_nothing(live, app, peer, done["id"])
    stored = [json.loads(x) for x in data.splitlines()]
    assert stored[0][0] == "connectionInfo" and stored[0][2]["clientProtocol"] == "3.1_STANDARD"
    assert token not in data.decode() and "/t/obfuscated/" in stored[0][2]["path"]
    assert [x[4] for x in stored[2:]] == list(range(1, len(lines) + 1))


async def test_jitsi_reconnect_while_the_old_socket_lingers(live: Server) -> None:
    """The new socket takes the stream over; the old one closing later does not end it."""
    meeting, peer, sid = "room-o", "ep-o", uuid.uuid4().hex
    app = live.app_with_joined_peer(ACCOUNT, peer, meeting)
    token = live.token(ACCOUNT, "ingest", app=app)
    lines = dump_lines()[:40]
    base = f"/ingest/v1/rtcstats/t/{token}/{meeting}?statsSessionId={sid}&isReconnect="
    async with connect(ws_url(live, base + "false"), subprotocols=["3.1_STANDARD"]) as old:
        await asyncio.wait_for(old.recv(), 5)
        await old.send(identity(sid, meeting, peer, lines[0][3]))
        for seq, line in enumerate(lines[:20], start=1):
            await old.send(entry(sid, line, seq))
        await wait_for_stream(live, app, lambda s: s["lines"] == 22)
        async with connect(ws_url(live, base + "true"), subprotocols=["3.1_STANDARD"]) as new:
            await asyncio.wait_for(new.recv(), 5)
            for seq, line in enumerate(lines[10:], start=11):
                await new.send(entry(sid, line, seq))
            await wait_for_stream(live, app, lambda s: s["lines"] == 2 + len(lines))
            await old.close(1001)
            await asyncio.sleep(1)
            [open_still] = await asyncio.to_thread(streams, live, app)
            assert open_still["ended_at"] is None  # the old socket's end is not the stream's
            await new.close(3001)
    done = await wait_for_stream(live, app, lambda s: s["close_code"] == 3001)
    assert done["lines"] == 2 + len(lines)
    assert_reimport_adds_nothing(live, app, peer, done["id"])


async def test_jitsi_several_sessions_on_one_socket(live: Server) -> None:
    meeting = "room-b"
    app = live.app_with_joined_peer(ACCOUNT, "ep-1", meeting)
    token = live.token(ACCOUNT, "ingest", app=app)
    lines = dump_lines()[:20]
    sids = [uuid.uuid4().hex for _ in range(3)]
    async with connect(
        ws_url(live, f"/ingest/v1/rtcstats/t/{token}/{meeting}"), subprotocols=["3.1_LEGACY"]
    ) as ws:
        await asyncio.wait_for(ws.recv(), 5)
        for i, sid in enumerate(sids):
            await ws.send(identity(sid, meeting, f"ep-{i + 1}", lines[0][3]))
        for seq, line in enumerate(lines, start=1):
            for sid in sids:
                await ws.send(entry(sid, line, seq))
        await ws.send(json.dumps({"statsSessionId": sids[0], "type": "close"}))
        async with keeping_alive(ws, *sids[1:]):
            first, last = sids[0], sids[2]
            await wait_for_stream(
                live, app, lambda s: s["stats_session_id"] == first and s["ended_at"]
            )
            await wait_for_stream(
                live, app, lambda s: s["stats_session_id"] == last and s["events"]
            )
    found = await asyncio.to_thread(streams, live, app)
    assert sorted(s["peer_id"] for s in found) == ["ep-1", "ep-2", "ep-3"]
    assert {s["stats_session_id"] for s in found} == set(sids)


async def test_jitsi_idle_socket_is_closed(live: Server) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    token = live.token(ACCOUNT, "ingest", app=app)
    sid = uuid.uuid4().hex
    started = time.monotonic()
    async with connect(
        ws_url(live, f"/ingest/v1/rtcstats?rtcstats-token={token}"), subprotocols=["3.1_STANDARD"]
    ) as ws:
        await asyncio.wait_for(ws.recv(), 5)
        await ws.send(identity(sid, "room-c", "ep-c", 1_647_251_293_000))
        code, reason = await closed_with(ws, timeout=IDLE_S + 8)
    assert code == 1000 and "idle" in reason
    assert time.monotonic() - started >= IDLE_S
    ended = await wait_for_stream(live, app, lambda s: s["ended_at"] is not None)
    assert ended["peer_id"] == "ep-c"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("none", "no credential"),
        ("bad-path", "invalid or revoked token"),
        ("bad-query", "invalid or revoked token"),
        ("read-only", "lacks the ingest permission"),
        ("account-wide", "not limited to one app"),
    ],
)
async def test_bad_credentials_close_1008(live: Server, where: str, expected: str) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    fake = "rtk_0123456789abcdef_notarealsecretatall"
    paths = {
        "none": "/ingest/v1/rtcstats/room",
        "bad-path": f"/ingest/v1/rtcstats/t/{fake}/room",
        "bad-query": f"/ingest/v1/rtcstats?rtcstats-token={fake}",
        "read-only": f"/ingest/v1/rtcstats/t/{live.token(ACCOUNT, 'read', app=app)}",
        "account-wide": f"/ingest/v1/rtcstats/t/{live.token(ACCOUNT, 'ingest')}",
    }
    async with connect(ws_url(live, paths[where]), subprotocols=["3.1_STANDARD"]) as ws:
        code, reason = await closed_with(ws)
    assert code == 1008 and expected in reason, reason
    assert "rtk_" not in reason


# --- legacy (fippo/rtcstats 2.0) ---------------------------------------------------------


async def test_legacy_raw_arrays_with_identity_line(live: Server) -> None:
    meeting, peer = "room-l", "peer-l"
    app = live.app_with_joined_peer(ACCOUNT, peer, meeting)
    token = live.token(ACCOUNT, "ingest", app=app)
    lines = dump_lines()
    path = f"/ingest/v1/rtcstats/t/{token}/some/page/path"
    headers = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0 Safari/537.36"}
    async with connect(ws_url(live, path), subprotocols=["2.0"], additional_headers=headers) as ws:
        assert ws.subprotocol == "2.0"
        first_ts = lines[0][3]
        await ws.send(
            json.dumps(["identity", None, {"user": peer, "conference": meeting}, first_ts])
        )
        for line in lines:
            await ws.send(json.dumps(line[:4]))
        stream = await wait_for_stream(live, app, lambda s: s["lines"] == 3 + len(lines))
        assert (stream["family"], stream["peer_id"], stream["meeting_id"]) == (
            "legacy",
            peer,
            meeting,
        )
        assert has_quality(await asyncio.to_thread(report, live, app, peer))  # socket open
    done = await wait_for_stream(live, app, lambda s: s["ended_at"] is not None)
    data = assert_reimport_adds_nothing(live, app, peer, done["id"])
    stored = [json.loads(x) for x in data.splitlines()]
    assert stored[0]["fileFormat"] == 2 and stored[0]["path"].endswith("/some/page/path")
    assert stored[0]["path"].startswith("/ingest/v1/rtcstats/t/obfuscated/")
    assert stored[-1][:3] == ["close", None, None]
    assert token not in data.decode()


# --- rtcstats.com (rtcstats-js 2.x) -------------------------------------------------------


def stream_token(server: Server, app: str, meeting: str, peer: str, *extra: str) -> str:
    args = ["token", "rtcstats", "--account", ACCOUNT, "--app", app, "--meeting", meeting]
    return server.cli(*args, "--peer", peer, *extra).strip().splitlines()[-1]


async def test_rtcstats_com_frames_with_a_stream_token(live: Server) -> None:
    meeting, peer = "room-r", "peer-r"
    app = live.app_with_joined_peer(ACCOUNT, peer, meeting)
    jwt_token = stream_token(live, app, meeting, peer, "--user", "Ada", "--ttl", "600")
    claims = json.loads(base64.urlsafe_b64decode(jwt_token.split(".")[1] + "=="))
    assert claims["rtcStats"] == {"conference": meeting, "session": peer, "user": "Ada"}
    assert (claims["account_id"], claims["app_id"]) == (ACCOUNT, app)
    assert claims["exp"] - claims["iat"] == 600
    lines = [x for x in dump_lines() if x[0] not in ("identity", "conferenceStartTimestamp")]
    frames = rtcstats_com_frames(lines)
    path = f"/ingest/v1/rtcstats/samples/page/?rtcstats-token={jwt_token}"
    async with connect(ws_url(live, path), subprotocols=["rtcstats#5.0"]) as ws:
        assert ws.subprotocol == "rtcstats#5.0"
        for frame in frames:
            await ws.send(frame)
        stream = await wait_for_stream(live, app, lambda s: s["lines"] == 2 + len(frames))
        assert (stream["family"], stream["peer_id"], stream["user"]) == ("rtcstats", peer, "Ada")
        assert has_quality(await asyncio.to_thread(report, live, app, peer))  # socket open
        await ws.close(1001)
    done = await wait_for_stream(live, app, lambda s: s["ended_at"] is not None)
    assert done["close_code"] == 1001
    data = assert_reimport_adds_nothing(live, app, peer, done["id"])
    stored = data.decode().splitlines()
    assert stored[0] == "RTCStatsDump" and stored[2:-1] == frames  # frames byte for byte
    meta = json.loads(stored[1])
    assert meta["fileFormat"] == 3 and meta["clientProtocol"] == "rtcstats#5.0"
    assert meta["url"] == "/ingest/v1/rtcstats/samples/page/?rtcstats-token=obfuscated"
    assert meta["remoteAddresses"] == ["127.0.0.0"]  # truncated to its /24 by default
    assert json.loads(stored[-1])[:3] == ["close", None, 1001]
    assert jwt_token not in data.decode()


@pytest.mark.parametrize("case", ["bad-signature", "rotated", "no-secret"])
async def test_refused_stream_tokens(live: Server, case: str) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    if case == "bad-signature":
        claims = json.loads(
            base64.urlsafe_b64decode(stream_token(live, app, "m", "p").split(".")[1] + "==")
        )
        token = jwt.encode(claims, "not-the-app-secret-" * 4, algorithm="HS256")
        expected = "bad signature"
    elif case == "rotated":
        token = stream_token(live, app, "m", "p")
        live.cli("token", "rtcstats-rotate", "--account", ACCOUNT, "--app", app)
        expected = "bad signature"
    else:
        token = stream_token(live, app, "m", "p")
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        claims["app_id"] = "app-never-made"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        token = ".".join([token.split(".")[0], forged, token.split(".")[2]])
        expected = "no rtcstats signing secret"
    async with connect(
        ws_url(live, f"/ingest/v1/rtcstats/t/{token}/page"), subprotocols=["rtcstats#5.0"]
    ) as ws:
        code, reason = await closed_with(ws)
    assert code == 1008 and expected in reason, reason


def test_an_expired_stream_token_is_refused(tmp_path: Path) -> None:
    """The server's clock runs 2 h ahead (tests only), so a token minted now expired. (Not a
    coroutine: a PostgreSQL database of its own is made with asyncio.run.)"""

    async def refused(server: Server, token: str) -> tuple[int | None, str]:
        path = f"/ingest/v1/rtcstats?rtcstats-token={token}"
        async with connect(ws_url(server, path), subprotocols=["rtcstats#5.0"]) as ws:
            return await closed_with(ws)

    with (
        own_database(tmp_path) as url,
        running_server(
            tmp_path, url, RTK_SWEEP_INTERVAL="3600", RTK_TEST_CLOCK_OFFSET="2h"
        ) as server,
    ):
        token = stream_token(server, "app-exp", "m", "p", "--ttl", "60")
        code, reason = asyncio.run(refused(server, token))
    assert code == 1008 and "expired" in reason, reason


async def test_a_message_over_the_frame_limit_closes_1009(live: Server) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    token = live.token(ACCOUNT, "ingest", app=app)
    async with connect(
        ws_url(live, f"/ingest/v1/rtcstats/t/{token}"), subprotocols=["2.0"], max_size=None
    ) as ws:
        await ws.send(json.dumps(["getstats", "PC_0", {"x": "y" * (2**20 + 10)}, 1]))
        code, _ = await closed_with(ws)
    assert code == 1009


async def test_a_stream_token_from_the_api_names_the_peer(live: Server) -> None:
    """An app server mints a token over HTTP; in the path, it beats the client's identity."""
    app = live.app_with_joined_peer(ACCOUNT, "peer-t", "room-t")
    url = f"{live.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/rtcstats/tokens"
    ingest = {"Authorization": f"Bearer {live.token(ACCOUNT, 'ingest', app=app)}"}
    bad = httpx.post(url, json={"meeting_id": "room-t"}, headers=ingest, timeout=30)
    assert bad.status_code == 400 and "peer_id" in bad.text
    reader = {"Authorization": f"Bearer {read_token(live, app)}"}
    body = {"meeting_id": "room-t", "peer_id": "peer-t", "ttl_seconds": 120}
    assert httpx.post(url, json=body, headers=reader, timeout=30).status_code == 403
    resp = httpx.post(url, json=body, headers=ingest, timeout=30)
    assert resp.status_code == 200, resp.text
    minted = resp.json()["data"]
    assert minted["path"] == f"/ingest/v1/rtcstats/t/{minted['token']}"
    sid = uuid.uuid4().hex
    async with connect(
        ws_url(live, minted["path"] + "/room-t?statsSessionId=" + sid),
        subprotocols=["3.1_STANDARD"],
    ) as ws:
        await asyncio.wait_for(ws.recv(), 5)
        await ws.send(identity(sid, "other-room", "other-peer", 1_647_251_293_000))
        await ws.close(3001)
    done = await wait_for_stream(live, app, lambda s: s["ended_at"] is not None)
    assert (done["meeting_id"], done["peer_id"]) == ("room-t", "peer-t")


async def test_legacy_identity_known_late_and_never(live: Server) -> None:
    """Lines before the identity are stored and read once it is known (here from the
    constraints, after several flushes); a stream that never names itself ingests nothing."""
    meeting, peer = "room-late", "peer-late"
    app = live.app_with_joined_peer(ACCOUNT, peer, meeting)
    token = live.token(ACCOUNT, "ingest", app=app)
    lines = dump_lines()
    cut = len(lines) - 10
    async with connect(
        ws_url(live, f"/ingest/v1/rtcstats/t/{token}/p"), subprotocols=["2.0"]
    ) as ws:
        for line in lines[:cut]:
            await ws.send(json.dumps(line[:4]))
        await wait_for_stream(live, app, lambda s: s["lines"] == 2 + cut)  # flushed, not read
        [waiting] = await asyncio.to_thread(streams, live, app)
        assert (waiting["identified"], waiting["events"]) == (False, 0)
        constraints = {"optional": [{"rtcStatsPeerId": peer}, {"rtcStatsConferenceId": meeting}]}
        await ws.send(json.dumps(["constraints", "PC_9", constraints, lines[cut][3]]))
        for line in lines[cut:]:
            await ws.send(json.dumps(line[:4]))
    done = await wait_for_stream(live, app, lambda s: s["ended_at"] is not None)
    assert done["identified"] and done["peer_id"] == peer and done["events"] > 0
    data = assert_reimport_adds_nothing(live, app, peer, done["id"])
    # metadata, publicIP, the lines, constraints, close
    assert len(data.splitlines()) == 2 + len(lines) + 2

    async with connect(
        ws_url(live, f"/ingest/v1/rtcstats/t/{token}/q"), subprotocols=["2.0"]
    ) as ws:
        for line in lines[:20]:
            await ws.send(json.dumps(line[:4]))
    anonymous = await wait_for_stream(
        live, app, lambda s: s["id"] != done["id"] and s["ended_at"] is not None
    )
    assert (anonymous["identified"], anonymous["events"], anonymous["lines"]) == (False, 0, 23)


async def test_account_wide_token_with_app_and_ids_in_the_query(live: Server) -> None:
    """An account-wide ingest token names its app with ?app_id=; ?meeting_id=&peer_id= name
    the stream (in the Authorization header, as a non-browser client sends it)."""
    app = live.app_with_joined_peer(ACCOUNT, "peer-q", "room-q")
    token = live.token(ACCOUNT, "ingest")
    path = f"/ingest/v1/rtcstats/page?app_id={app}&meeting_id=room-q&peer_id=peer-q"
    async with connect(
        ws_url(live, path),
        subprotocols=["2.0"],
        additional_headers={"Authorization": f"Bearer {token}"},
    ) as ws:
        for line in dump_lines()[:30]:
            await ws.send(json.dumps(line[:4]))
    done = await wait_for_stream(live, app, lambda s: s["ended_at"] is not None)
    assert (done["meeting_id"], done["peer_id"], done["identified"]) == ("room-q", "peer-q", True)
    assert done["events"] > 0
    data = download(live, app, done["id"])
    assert "app_id=" in json.loads(data.splitlines()[0])["path"] and token not in data.decode()


async def test_server_log_holds_no_credential(live: Server) -> None:
    """Runs after the others of this module (file order): their tokens are not in the log."""
    app = f"app-{uuid.uuid4().hex[:8]}"
    token = live.token(ACCOUNT, "ingest", app=app)
    async with connect(ws_url(live, f"/ingest/v1/rtcstats/t/{token}/x?rtcstats-token={token}")):
        pass
    await asyncio.sleep(0.5)
    log = Path(live.log).read_text()
    assert "WebSocket /ingest/v1/rtcstats" in log  # the socket was logged, masked
    secret = token.split("_", 2)[2]
    assert secret not in log
    # Stream tokens (JWTs) went in queries and paths earlier in this module: none is logged.
    assert "eyJ" not in log and "/rtcstats/t/***" in log
