"""End to end: a whole RealtimeKit meeting arrives as signed webhooks at a real server, its
chat, transcript and summary files are downloaded from a loopback HTTPS server, and the
mirrored session is read back through the official SDK (strict) under RealtimeKit's own
session id. Also: forged, tampered and unsigned deliveries, retried and reordered ones, the
key URL mode with rotation, and the refusal of downloads from private addresses.

Two server processes: one that may download from loopback (RTK_FETCH_ALLOW_PRIVATE, trusting
the test's CA), one that may not.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudflare import Cloudflare
from cryptography.hazmat.primitives.asymmetric import rsa

from https_files import Files, certificates, public_pem, rsa_key, serving_files, sign
from rtk_sessions.auth.repo import get_app_pk
from rtk_sessions.integrations import webhook_repo
from rtk_sessions.kit.db import Database
from support import Server, own_database, running_server

pytestmark = pytest.mark.e2e
ACCOUNT = "acct-rtk-hooks"


KEY, OTHER_KEY, ROTATED_KEY = rsa_key(), rsa_key(), rsa_key()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return certificates(tmp_path_factory.mktemp("rtk-tls"))


@pytest.fixture(scope="module")
def files(tls: tuple[Path, Path, Path]) -> Iterator[Files]:
    with serving_files(tls[1], tls[2]) as served:
        yield served


# ---------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, tls: tuple[Path, Path, Path]
) -> Iterator[Server]:
    """May download from loopback, trusting the test CA; 40 failed signatures a minute."""
    directory = tmp_path_factory.mktemp("rtk-hooks")
    with (
        own_database(directory) as url,
        running_server(
            directory,
            url,
            RTK_FETCH_ALLOW_PRIVATE="true",
            RTK_FETCH_CA_FILE=str(tls[0]),
            RTK_AUTH_FAILURE_LIMIT="40/minute",
            RTK_SWEEP_INTERVAL="3600",
        ) as srv,
    ):
        yield srv


@pytest.fixture(scope="module")
def strict_server(
    tmp_path_factory: pytest.TempPathFactory, tls: tuple[Path, Path, Path]
) -> Iterator[Server]:
    """Trusts the test CA but refuses private addresses (the default)."""
    directory = tmp_path_factory.mktemp("rtk-hooks-strict")
    with (
        own_database(directory) as url,
        running_server(directory, url, RTK_FETCH_CA_FILE=str(tls[0])) as srv,
    ):
        yield srv


def set_up(srv: Server, app: str, *, key_url: str | None = None) -> str:
    """`rtk-sessions app set-realtimekit`, as an operator runs it; the URL it prints."""
    if key_url is None:
        path = Path(srv.env["RTK_DATA_DIR"]) / f"{app}.pem"
        path.write_text(public_pem(KEY))
        out = srv.cli("app", "set-realtimekit", "--account", ACCOUNT, "--app", app,
                      "--public-key-file", str(path))  # fmt: skip
    else:
        out = srv.cli("app", "set-realtimekit", "--account", ACCOUNT, "--app", app,
                      "--public-key-url", key_url)  # fmt: skip
    receiver = out.strip().splitlines()[-1].strip()
    port = srv.base_url.rsplit(":", 1)[1]
    assert (
        receiver
        == f"http://127.0.0.1:{port}/integrations/realtimekit/v1/accounts/{ACCOUNT}/apps/{app}"
    )
    return receiver


def post(
    url: str,
    payload: Any,
    key: rsa.RSAPrivateKey = KEY,
    *,
    delivery: str | None = None,
    header: str = "rtk-signature",
    raw: bytes | None = None,
) -> httpx.Response:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"content-type": "application/json", header: sign(key, body),
               "rtk-uuid": delivery or str(uuid.uuid4()), "rtk-webhook-id": "wh-1"}  # fmt: skip
    return httpx.post(url, content=body, headers=headers, timeout=30)


def sdk(srv: Server, app: str) -> Cloudflare:
    return Cloudflare(
        api_token=srv.token(ACCOUNT, "read", app=app),
        base_url=f"{srv.base_url}/client/v4",
        _strict_response_validation=True,
    )


def downloads(srv: Server, app: str) -> dict[str, webhook_repo.DownloadRow]:
    """The app's download intents by kind, read from the server's database."""

    async def read() -> list[webhook_repo.DownloadRow]:
        db = Database(srv.env["RTK_DATABASE_URL"])
        try:
            async with db.read() as conn:
                pk = await get_app_pk(conn, ACCOUNT, app)
                assert pk is not None
                return await webhook_repo.downloads_of_app(conn, pk)
        finally:
            await db.dispose()

    return {row.kind: row for row in asyncio.run(read())}


def wait_until_settled(srv: Server, app: str, kinds: int, since: int = 0) -> dict[str, Any]:
    """Poll (bounded) until `kinds` downloads requested at or after `since` are no longer
    PENDING."""
    deadline = time.monotonic() + 60
    while True:
        rows = downloads(srv, app)
        fresh = [r for r in rows.values() if r.requested_at >= since]
        if len(fresh) == kinds and all(r.status != webhook_repo.PENDING for r in fresh):
            return rows
        assert time.monotonic() < deadline, f"downloads did not settle: {rows}"
        time.sleep(0.2)


# ---------------------------------------------------------------------------- the meeting

BASE = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=3)


def at(minutes: float) -> dt.datetime:
    return BASE + dt.timedelta(minutes=minutes)


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def dyte_time(t: dt.datetime) -> str:
    """The legacy form, with microseconds and a space."""
    return t.strftime("%Y-%m-%d %H:%M:%S.%fZ")


def meeting_of(meeting_id: str, session: str, ended: dt.datetime | None = None) -> dict[str, Any]:
    """RealtimeKit's `meeting` object."""
    return {"id": meeting_id, "sessionId": session, "title": "Weekly sync",
            "roomName": meeting_id, "status": "LIVE", "createdAt": iso(at(0)),
            "startedAt": iso(at(0)), "endedAt": None if ended is None else iso(ended),
            "organizedBy": {"id": "org-1", "name": "Example organization"}}  # fmt: skip


class Meeting:
    """One RealtimeKit meeting: Alice (customParticipantId) and Bob (legacy clientSpecificId)."""

    def __init__(self, files: Files) -> None:
        self.id = str(uuid.uuid4())
        self.session = str(uuid.uuid4())
        self.alice, self.bob = str(uuid.uuid4()), str(uuid.uuid4())
        self.bob_left = at(20) + dt.timedelta(microseconds=123456)
        tag = uuid.uuid4().hex[:8]
        self.chat_path = f"/{tag}/chat.csv"
        self.transcript_path = f"/{tag}/transcript.csv"
        self.summary_path = f"/{tag}/summary.txt"
        self.chat = self._chat_csv()
        self.transcript = self._transcript_csv()
        self.summary = "## Weekly sync\n\n- Alice ships the release on Friday.\n- Bob reviews it.\n"
        files.bodies[self.chat_path] = self.chat
        files.bodies[self.transcript_path] = self.transcript
        files.bodies[self.summary_path] = self.summary.encode()
        self.files = files

    def meeting(self, ended: dt.datetime | None = None) -> dict[str, Any]:
        return meeting_of(self.id, self.session, ended)

    def _chat_csv(self) -> bytes:
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["id", "participantId", "sessionId", "meetingId", "displayName", "pinned",
                         "isEdited", "payloadType", "payload", "createdAt"])  # fmt: skip
        writer.writerow(["m1", self.alice, self.session, self.id, "Alice Example", "false",
                         "false", "TEXT_MESSAGE", "Hello, team\nagenda: ünïcode", iso(at(1))])  # fmt: skip
        writer.writerow(["m2", self.bob, self.session, self.id, "Bob", "true", "true",
                         "TEXT_MESSAGE", "+1 \"quoted\"", iso(at(6))])  # fmt: skip
        writer.writerow(["m3", self.alice, self.session, self.id, "Alice Example", "false",
                         "false", "FILE_MESSAGE", "https://files.example/agenda.pdf", iso(at(7))])  # fmt: skip
        return out.getvalue().encode()

    def _transcript_csv(self) -> bytes:
        out = io.StringIO(newline="")
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(["60000", self.alice, "user-alice", "user-alice", "Alice Example",
                         "Let's start with the release."])  # fmt: skip
        writer.writerow(["64000", self.alice, "user-alice", "user-alice", "Alice Example",
                         "I will ship it on Friday."])  # fmt: skip
        writer.writerow(["360000", self.bob, "legacy-bob", "legacy-bob", "Bob",
                         "I'll review it, \"carefully\"."])  # fmt: skip
        return out.getvalue().encode()

    def deliveries(self, link_tag: str = "a") -> list[dict[str, Any]]:
        """Every webhook of the meeting, some out of order: Bob's leave before his join, the
        transcript before the chat."""
        signed = f"?X-Amz-Signature=secret{link_tag}&X-Amz-Expires=3600"
        alice = {"peerId": self.alice, "userDisplayName": "Alice Example",
                 "customParticipantId": "user-alice", "clientSpecificId": "user-alice"}  # fmt: skip
        bob = {"peerId": self.bob, "userDisplayName": "Bob", "clientSpecificId": "legacy-bob"}
        expiry = iso(dt.datetime.now(dt.UTC) + dt.timedelta(days=7))
        return [
            {"event": "meeting.started", "meeting": self.meeting()},
            {"event": "meeting.participantJoined", "meeting": self.meeting(),
             "participant": {**alice, "joinedAt": iso(at(0))}},
            {"event": "meeting.participantLeft", "meeting": self.meeting(),
             "participant": {**bob, "joinedAt": iso(at(5)), "leftAt": dyte_time(self.bob_left)}},
            {"event": "meeting.participantJoined", "meeting": self.meeting(),
             "participant": {**bob, "joinedAt": iso(at(5))}},
            {"event": "recording.statusUpdate", "meeting": self.meeting(),
             "recording": {"id": "r1", "status": "RECORDING", "fileSize": 0,
                           "startedTime": dyte_time(at(1)), "roomUUID": self.session}},
            {"event": "meeting.participantLeft", "meeting": self.meeting(at(30)),
             "participant": {**alice, "joinedAt": iso(at(0)), "leftAt": iso(at(30))}},
            {"event": "meeting.ended", "meeting": self.meeting(at(30)),
             "reason": "ALL_PARTICIPANTS_LEFT"},
            {"event": "livestreaming.statusUpdate", "streamId": "s1", "status": "OFFLINE"},
            {"event": "meeting.transcript", "meeting": self.meeting(at(30)),
             "transcriptDownloadUrl": self.files.base_url + self.transcript_path + signed,
             "transcriptDownloadUrlExpiry": expiry},
            {"event": "meeting.chatSynced", "meetingId": self.id, "sessionId": self.session,
             "title": "Weekly sync", "createdAt": iso(at(0)), "startedAt": iso(at(0)),
             "endedAt": iso(at(30)),
             "chatDownloadUrl": self.files.base_url + self.chat_path + signed,
             "chatDownloadUrlExpiry": dyte_time(dt.datetime.now(dt.UTC) + dt.timedelta(days=7)),
             "organizedBy": {"id": "org-1", "name": "Example organization"}},
            {"event": "meeting.summary",
             "meeting": {"id": self.id, "sessionId": self.session,
                         "organizedBy": {"id": "org-1", "name": "Example organization"}},
             "summaryDownloadUrl": self.files.base_url + self.summary_path + signed,
             "summaryDownloadUrlExpiry": expiry},
        ]  # fmt: skip


def read_all(srv: Server, client: Cloudflare, app: str, session: str) -> dict[str, Any]:
    """Everything the SDK shows of the app, links replaced by the files they lead to."""
    s = client.realtime_kit.sessions
    listed = s.get_sessions(app, account_id=ACCOUNT, per_page=100).model_dump()
    details = s.get_session_details(session, account_id=ACCOUNT, app_id=app).model_dump()
    people = s.get_session_participants(
        session, account_id=ACCOUNT, app_id=app, per_page=100
    ).model_dump()
    chat = s.get_session_chat(session, account_id=ACCOUNT, app_id=app).data
    transcript = s.get_session_transcripts(session, account_id=ACCOUNT, app_id=app, format="CSV")
    summary = s.get_session_summary(session, account_id=ACCOUNT, app_id=app).data
    assert chat is not None and transcript.data is not None and summary is not None

    def fetch(url: str) -> bytes:
        return httpx.get(url, timeout=30).raise_for_status().content

    return {
        "sessions": listed,
        "details": details,
        "participants": people,
        "chat": fetch(chat.chat_download_url),
        "transcript": fetch(transcript.data.transcript_download_url),
        "summary": fetch(summary.summary_download_url),
    }


# -------------------------------------------------------------------------------- tests


def test_whole_meeting_is_mirrored_under_its_session_id(server: Server, files: Files) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    url = set_up(server, app)
    m = Meeting(files)
    answers = [post(url, d) for d in m.deliveries()]
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]
    ignored = [a.json()["data"]["ignored_event"] for a in answers]
    assert (
        ignored.count("recording.statusUpdate") == ignored.count("livestreaming.statusUpdate") == 1
    )
    rows = wait_until_settled(server, app, 3)
    assert {k: r.status for k, r in rows.items()} == dict.fromkeys(rows, "DONE"), rows

    client = sdk(server, app)
    seen = read_all(server, client, app, m.session)
    [listed] = seen["sessions"]["data"]["sessions"]
    details = seen["details"]["data"]
    assert listed["id"] == details["id"] == m.session
    assert (details["associated_id"], details["meeting_display_name"], details["status"]) == (
        m.id,
        "Weekly sync",
        "ENDED",
    )
    assert (details["started_at"], details["ended_at"]) == (iso(at(0)), iso(at(30)))
    assert details["minutes_consumed"] == pytest.approx(30 + 15 + 0.123 / 60, abs=0.01)
    assert details["max_concurrent_participants"] == 2
    people = {p["display_name"]: p for p in seen["participants"]["data"]["participants"]}
    assert set(people) == {"Alice Example", "Bob"}
    alice, bob = people["Alice Example"], people["Bob"]
    assert (alice["id"], alice["custom_participant_id"], alice["user_id"]) == (
        m.alice,
        "user-alice",
        "user-alice",
    )
    assert (bob["id"], bob["custom_participant_id"], bob["user_id"]) == (
        m.bob,
        "legacy-bob",
        "legacy-bob",
    )
    assert (alice["joined_at"], alice["left_at"]) == (iso(at(0)), iso(at(30)))
    assert (bob["joined_at"], bob["left_at"]) == (iso(at(5)), iso(m.bob_left))
    assert seen["chat"] == m.chat
    assert seen["transcript"] == m.transcript
    assert seen["summary"].decode() == m.summary

    # Every delivery again, last first: the same bodies (new delivery ids), and re-encoded
    # bodies with fresh links, as a later delivery of the same facts would be.
    since = int(time.time() * 1000)
    again = list(reversed(m.deliveries(link_tag="b")))
    for payload in again:
        assert post(url, payload).status_code == 200
        assert post(url, None, raw=json.dumps(payload, indent=1).encode()).status_code == 200
    compact = json.dumps(again[-1], separators=(",", ":")).encode()
    first = post(url, None, raw=compact, delivery="same-id")
    assert first.status_code == 200 and first.json()["data"]["repeated_delivery"] is False
    repeat = post(url, None, raw=json.dumps(again[-1], indent=3).encode(), delivery="same-id")
    assert repeat.json()["data"]["repeated_delivery"] is True  # a known delivery id
    wait_until_settled(server, app, 3, since)
    assert read_all(server, client, app, m.session) == seen
    log = server.log.read_text()
    assert "secreta" not in log and "secretb" not in log and "X-Amz-Signature=" not in log


def test_forged_tampered_and_unsigned_deliveries_store_nothing(server: Server) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    url = set_up(server, app)
    session = str(uuid.uuid4())
    join = {"event": "meeting.participantJoined", "meeting": meeting_of("m-forged", session),
            "participant": {"peerId": str(uuid.uuid4()), "joinedAt": iso(at(0))}}  # fmt: skip
    body = json.dumps(join).encode()
    tampered = bytearray(body)
    tampered[body.index(b"joinedAt") + 12] ^= 0x01  # one byte of the time
    signature = sign(KEY, body)
    refused = [
        httpx.post(url, content=bytes(tampered), headers={"rtk-signature": signature}),
        post(url, None, OTHER_KEY, raw=body),  # another key
        post(url, None, raw=body, header="x-signature"),  # a header RealtimeKit does not use
        httpx.post(url, content=body),  # none at all
        httpx.post(url, content=body, headers={"rtk-signature": "not base64!"}),
    ]
    assert [r.status_code for r in refused] == [401] * len(refused)
    assert all(r.json()["success"] is False for r in refused)
    client = sdk(server, app)
    assert client.realtime_kit.sessions.get_sessions(app, account_id=ACCOUNT).data.sessions == []
    legacy = post(url, None, raw=body, header="dyte-signature")
    assert legacy.status_code == 200 and legacy.json()["data"]["accepted"] == 1
    [found] = client.realtime_kit.sessions.get_sessions(app, account_id=ACCOUNT).data.sessions
    assert found.id == session


def test_apps_without_settings_and_bad_bodies(server: Server) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    base = f"{server.base_url}/integrations/realtimekit/v1/accounts/{ACCOUNT}/apps/{app}"
    missing = post(base, {"event": "meeting.started"})
    assert missing.status_code == 404 and "rtk-sessions app set-realtimekit" in missing.text
    url = set_up(server, app)
    assert post(url, None, raw=b"x" * (1024 * 1024 + 1)).status_code == 413
    assert post(url, None, raw=b"{not json").status_code == 400
    no_time = {"event": "meeting.participantJoined",
               "meeting": {"id": "m", "sessionId": str(uuid.uuid4())},
               "participant": {"peerId": "p1", "joinedAt": "yesterday"}}  # fmt: skip
    bad = post(url, no_time)
    assert bad.status_code == 400 and "participant.joinedAt" in bad.text
    assert post(url, {"event": "future.thing", "x": 1}).json()["data"]["ignored_event"] == (
        "future.thing"
    )


def test_key_url_is_fetched_once_and_again_after_rotation(server: Server, files: Files) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    path = f"/{app}/.well-known/webhooks.json"

    def serve_key(key: rsa.RSAPrivateKey) -> None:
        document = {"success": True, "data": {"publicKey": public_pem(key)}, "message": ""}
        files.bodies[path] = json.dumps(document).encode()

    serve_key(KEY)
    url = set_up(server, app, key_url=files.base_url + path)

    def started(title: str, key: rsa.RSAPrivateKey) -> httpx.Response:
        meeting = {"id": "m-" + app, "sessionId": str(uuid.uuid4()), "title": title,
                   "startedAt": iso(at(0))}  # fmt: skip
        return post(url, {"event": "meeting.started", "meeting": meeting}, key)

    assert started("one", KEY).status_code == 200
    assert started("two", KEY).status_code == 200
    assert files.hits(path) == 1  # fetched once, then cached
    serve_key(ROTATED_KEY)
    assert started("three", ROTATED_KEY).status_code == 200
    assert files.hits(path) == 2  # the failed check fetched the new key
    assert started("four", ROTATED_KEY).status_code == 200
    assert started("five", OTHER_KEY).status_code == 401
    assert files.hits(path) == 2  # no second fetch within minutes, whatever forgers send

    # A key that cannot be fetched is trouble that may pass: 503, which RealtimeKit retries.
    other = f"app-{uuid.uuid4().hex[:8]}"
    unreachable = set_up(server, other, key_url=f"{files.base_url}/{other}/missing.json")
    answer = post(unreachable, {"event": "meeting.started"})
    assert answer.status_code == 503 and "public key could not be fetched" in answer.text
    assert files.base_url not in answer.text


def test_downloads_from_private_addresses_are_refused(strict_server: Server, files: Files) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    url = set_up(strict_server, app)
    m = Meeting(files)
    [chat] = [d for d in m.deliveries() if d["event"] == "meeting.chatSynced"]
    assert post(url, chat).json()["data"]["download_requested"] is True
    rows = wait_until_settled(strict_server, app, 1)
    assert rows["chat"].status == "FAILED" and rows["chat"].attempts == 1
    assert "private, loopback or link-local" in (rows["chat"].error or "")
    assert files.hits(m.chat_path) == 0
    client = sdk(strict_server, app)
    assert client.realtime_kit.sessions.get_sessions(app, account_id=ACCOUNT).data.sessions == []
    log = strict_server.log.read_text()
    assert "chat download of session" in log and "failed for good" in log
    assert "secreta" not in log


def test_failed_signatures_spend_the_address_budget(server: Server) -> None:
    """Runs last: it spends 127.0.0.1's budget of failed authentications on this server."""
    app = f"app-{uuid.uuid4().hex[:8]}"
    url = set_up(server, app)
    statuses = [post(url, {"event": "meeting.started"}, OTHER_KEY).status_code for _ in range(45)]
    assert 401 in statuses and statuses[-1] == 429
    assert post(url, {"event": "meeting.started"}).status_code == 429  # even a good one, now
