"""Outgoing webhooks end to end: a real server, events in over HTTP, a real receiver on
loopback that verifies every rtk-signature with the key from /.well-known/webhooks.json.

Every event kind derived from sessions arrives with the documented shape, once, in each
meeting's order: a meeting whose peers all leave, one the host ends, one the idle sweep
ends, and one whose two sessions a late event merges. A 500 is retried with the same
rtk-uuid, a 400 is not; a server killed with SIGKILL loses no delivery.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudflare import Cloudflare

from support import Server, _free_port, own_database, running_server
from webhook_receiver import Delivery, Receiver, receiving

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-deliveries"
APP = "app-deliveries"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
SETTINGS = {
    "RTK_WEBHOOK_ALLOW_PRIVATE": "true",
    "RTK_WEBHOOK_RETRY_BASE": "0.3",
    "RTK_WEBHOOK_TIMEOUT": "2",
    "RTK_SWEEP_INTERVAL": "0.5",
    "RTK_SESSION_IDLE_TIMEOUT": "4",
    "RTK_AUTH_FAILURE_LIMIT": "off",
}
MEETING_KEYS = {"id", "sessionId", "title", "roomName", "status", "createdAt", "startedAt",
                "organizedBy"}  # fmt: skip
PARTICIPANT_KEYS = {"peerId", "userDisplayName", "customParticipantId", "clientSpecificId",
                    "joinedAt"}  # fmt: skip


def at(minutes: float) -> str:
    return (
        (T0 + timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def joined(meeting: str, peer: str, minutes: float) -> dict[str, Any]:
    return {"id": f"j-{peer}", "type": "peer.joined", "meeting_id": meeting, "peer_id": peer,
            "occurred_at": at(minutes), "display_name": f"Name {peer}",
            "custom_participant_id": f"cust-{peer}", "meeting_title": f"Title {meeting}"}  # fmt: skip


def left(meeting: str, peer: str, minutes: float) -> dict[str, Any]:
    return {"id": f"l-{peer}", "type": "peer.left", "meeting_id": meeting, "peer_id": peer,
            "occurred_at": at(minutes)}  # fmt: skip


class World:
    def __init__(self, server: Server, token: str, hook_id: str) -> None:
        self.server = server
        self.token = token
        self.hook_id = hook_id

    def ingest(self, events: list[dict[str, Any]]) -> None:
        resp = httpx.post(
            f"{self.server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{APP}/events",
            json=events, headers={"Authorization": f"Bearer {self.token}"}, timeout=30,
        )  # fmt: skip
        assert resp.status_code == 200, resp.text

    def log(self) -> list[dict[str, Any]]:
        resp = httpx.get(
            f"{self.server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{APP}"
            f"/webhooks/{self.hook_id}/deliveries?per_page=100",
            headers={"Authorization": f"Bearer {self.token}"}, timeout=30,
        )  # fmt: skip
        assert resp.status_code == 200, resp.text
        return list(resp.json()["data"]["deliveries"])


def public_key(server: Server) -> str:
    return str(
        httpx.get(f"{server.base_url}/.well-known/webhooks.json").json()["data"]["publicKey"]
    )


def subscribe(server: Server, token: str, url: str) -> str:
    client = Cloudflare(api_token=token, base_url=f"{server.base_url}/client/v4",
                        _strict_response_validation=True)  # fmt: skip
    made = client.realtime_kit.webhooks.create_webhook(
        APP, account_id=ACCOUNT, name="receiver", url=url,
        events=["meeting.started", "meeting.ended", "meeting.participantJoined",
                "meeting.participantLeft"],
    )  # fmt: skip
    return made.data.id


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[World, Receiver]]:
    (tmp_path / "data").mkdir()
    with (
        own_database(tmp_path) as url,
        running_server(tmp_path / "data", url, **SETTINGS) as server,
        receiving(public_key(server)) as receiver,
    ):
        token = server.token(ACCOUNT, "admin", "ingest", app=APP)
        yield World(server, token, subscribe(server, token, receiver.url)), receiver


def identity(d: Delivery) -> tuple[str, ...]:
    """What makes a delivery the same event: its kind, session and peer."""
    body = d.body
    peer = body.get("participant", {}).get("peerId", "")
    return (d.event, body["meeting"]["id"], body["meeting"]["sessionId"], peer)


def of_meeting(deliveries: list[Delivery], meeting: str) -> list[tuple[str, str]]:
    return [
        (d.event, d.body.get("participant", {}).get("peerId", ""))
        for d in deliveries
        if d.body["meeting"]["id"] == meeting and 200 <= d.answered < 300
    ]


def check_shape(d: Delivery, app: str) -> None:
    body = d.body
    meeting = body["meeting"]
    keys = MEETING_KEYS | ({"endedAt"} if "endedAt" in meeting else set())
    assert set(meeting) == keys, meeting
    assert meeting["status"] == "LIVE" and meeting["roomName"] == meeting["id"]
    assert meeting["organizedBy"] == {"id": app, "name": app}
    assert meeting["title"] == f"Title {meeting['id']}"
    uuid.UUID(meeting["sessionId"])
    if d.event == "meeting.started":
        assert set(body) == {"event", "meeting"} and "endedAt" not in meeting
    elif d.event == "meeting.ended":
        assert set(body) == {"event", "meeting", "reason"} and "endedAt" in meeting
        assert body["reason"] in ("HOST_ENDED_MEETING", "ALL_PARTICIPANTS_LEFT")
    else:
        assert set(body) == {"event", "meeting", "participant"}
        p = body["participant"]
        expected = PARTICIPANT_KEYS | ({"leftAt"} if d.event.endswith("Left") else set())
        assert set(p) == expected, p
        assert p["userDisplayName"] == f"Name {p['peerId']}"
        assert p["customParticipantId"] == p["clientSpecificId"] == f"cust-{p['peerId']}"


def test_every_session_event_arrives_signed_once_in_order(
    world: tuple[World, Receiver],
) -> None:
    w, receiver = world
    ended_a: Counter[str] = Counter()
    refused: list[str] = []

    def answer(body: dict[str, Any], rtk_uuid: str) -> int:
        if body["event"] == "meeting.ended" and body["meeting"]["id"] == "m-a":
            ended_a[rtk_uuid] += 1
            return 500 if ended_a[rtk_uuid] <= 2 else 200
        if body["event"] == "meeting.participantLeft" and body["participant"]["peerId"] == "d1":
            refused.append(rtk_uuid)
            return 400
        return 200

    receiver.answer = answer
    w.ingest([
        joined("m-a", "a1", 0), joined("m-a", "a2", 1), left("m-a", "a2", 2), left("m-a", "a1", 3),
        joined("m-d", "d1", 0), joined("m-d", "d2", 1),
        {"id": "end-d", "type": "meeting.ended", "meeting_id": "m-d", "occurred_at": at(5)},
        joined("m-c", "c1", 0), left("m-c", "c1", 1), joined("m-c", "c2", 10), left("m-c", "c2", 11),
        joined("m-b", "b1", 0),
    ])  # fmt: skip
    # The duplicate batch changes nothing, so it owes nothing.
    w.ingest([joined("m-a", "a1", 0), left("m-a", "a1", 3)])
    receiver.wait_for(lambda ds: len(of_meeting(ds, "m-c")) == 8 and len(ended_a) == 1
                      and max(ended_a.values()) == 3)  # fmt: skip
    # The late peer bridges c1's and c2's sessions: one session, c1's, remains.
    w.ingest([joined("m-c", "c3", 0.5), left("m-c", "c3", 10.5)])
    # The idle sweep ends m-b (no event for RTK_SESSION_IDLE_TIMEOUT).
    receiver.wait_for(lambda ds: ("meeting.ended", "") in of_meeting(ds, "m-b")
                      and len(of_meeting(ds, "m-c")) == 12)  # fmt: skip
    time.sleep(2)  # retries of the 400 would have come by now (waits of 0.3 s, doubling)

    got = receiver.accepted()
    assert all(d.verified for d in receiver.deliveries)
    assert {d.webhook_id for d in receiver.deliveries} == {w.hook_id}
    for d in got:
        check_shape(d, APP)
    assert of_meeting(got, "m-a") == [
        ("meeting.started", ""), ("meeting.participantJoined", "a1"),
        ("meeting.participantJoined", "a2"), ("meeting.participantLeft", "a2"),
        ("meeting.participantLeft", "a1"), ("meeting.ended", ""),
    ]  # fmt: skip
    assert of_meeting(got, "m-d") == [
        ("meeting.started", ""),
        ("meeting.participantJoined", "d1"),
        ("meeting.participantJoined", "d2"),
        ("meeting.participantLeft", "d2"),
        ("meeting.ended", ""),
    ]  # fmt: skip  (d1's left was refused with 400 and not retried; the lane went on)
    assert of_meeting(got, "m-b") == [
        ("meeting.started", ""), ("meeting.participantJoined", "b1"),
        ("meeting.participantLeft", "b1"), ("meeting.ended", ""),
    ]  # fmt: skip
    c = [d for d in got if d.body["meeting"]["id"] == "m-c"]
    first, second = c[0].body["meeting"]["sessionId"], c[4].body["meeting"]["sessionId"]
    assert first != second
    assert [(d.event, d.body["meeting"]["sessionId"]) for d in c[8:]] == [
        ("meeting.participantJoined", first),
        ("meeting.participantJoined", first),
        ("meeting.participantLeft", first),
        ("meeting.participantLeft", first),
    ]  # fmt: skip  (c3 and c2 join the surviving session; nothing is started or ended again)
    assert sorted(d.body["participant"]["peerId"] for d in c[8:10]) == ["c2", "c3"]

    reasons = {d.body["meeting"]["id"]: d.body["reason"] for d in got if d.event == "meeting.ended"}
    assert reasons["m-d"] == "HOST_ENDED_MEETING"
    assert reasons["m-a"] == reasons["m-b"] == "ALL_PARTICIPANTS_LEFT"

    [ended_uuid] = ended_a
    tries = [d for d in receiver.deliveries if d.uuid == ended_uuid]
    assert [d.answered for d in tries] == [500, 500, 200]  # the same rtk-uuid each time
    assert len(refused) == 1
    assert [d.answered for d in receiver.deliveries if d.uuid == refused[0]] == [400]
    assert len({d.uuid for d in got}) == len(got)
    assert len({identity(d) for d in got}) == len(got)  # nothing sent twice

    log = w.log()
    mine = [e for e in log if e["rtk_uuid"] == ended_uuid]
    assert [(e["attempt"], e["status_code"], e["delivery_state"]) for e in mine] == [
        (3, 200, "delivered"), (2, 500, "delivered"), (1, 500, "delivered"),
    ]  # fmt: skip
    assert [e["error"] for e in mine] == [None, "HTTP 500", "HTTP 500"]
    assert all(e["latency_ms"] >= 0 and e["event"] == "meeting.ended" for e in mine)
    [bad] = [e for e in log if e["rtk_uuid"] == refused[0]]
    assert (bad["status_code"], bad["delivery_state"], bad["error"]) == (400, "failed", "HTTP 400")

    # Redelivering the refused one sends it again with its rtk-uuid.
    receiver.answer = lambda body, rtk_uuid: 200
    resp = httpx.post(
        f"{w.server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{APP}"
        f"/webhooks/{w.hook_id}/deliveries/{refused[0]}/redeliver",
        headers={"Authorization": f"Bearer {w.token}"}, timeout=30,
    )  # fmt: skip
    assert resp.status_code == 202, resp.text
    receiver.wait_for(lambda ds: [d.answered for d in ds if d.uuid == refused[0]] == [400, 200])
    cli_log = w.server.cli("webhook", "deliveries", "--account", ACCOUNT, "--app", APP, w.hook_id)
    assert f"meeting.participantLeft\t{refused[0]}\t#1\t200\t" in cli_log

    # Re-deriving everything from the stored events sends nothing.
    before = len(receiver.deliveries)
    assert "rebuilt 4 meetings" in w.server.cli("rebuild")
    time.sleep(3)
    assert len(receiver.deliveries) == before


def test_a_killed_server_loses_no_delivery(tmp_path: Path) -> None:
    """The receiver is down, so deliveries wait for retries; the server is killed with
    SIGKILL; the receiver comes up and the restarted server delivers every one of them."""
    port = _free_port()
    (tmp_path / "data").mkdir()
    with own_database(tmp_path) as url:
        with running_server(tmp_path / "data", url, **SETTINGS) as server:
            token = server.token(ACCOUNT, "admin", "ingest", app=APP)
            hook = subscribe(server, token, f"http://127.0.0.1:{port}/hooks")
            w = World(server, token, hook)
            w.ingest([joined("m-k", "k1", 0), joined("m-k", "k2", 1), left("m-k", "k2", 2),
                      left("m-k", "k1", 3)])  # fmt: skip
            deadline = time.monotonic() + 30
            while not w.log():
                assert time.monotonic() < deadline, "no delivery was attempted"
                time.sleep(0.1)
            assert w.log()[0]["error"] is not None  # nobody listens yet
            pem = public_key(server)
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
        with (
            receiving(pem, port) as receiver,
            running_server(tmp_path / "data", url, **SETTINGS) as again,
        ):
            assert public_key(again) == pem  # the key survived in the data directory
            receiver.wait_for(lambda ds: len([d for d in ds if d.answered == 200]) == 6)
            got = receiver.accepted()
            assert all(d.verified for d in got)
            assert of_meeting(got, "m-k") == [
                ("meeting.started", ""), ("meeting.participantJoined", "k1"),
                ("meeting.participantJoined", "k2"), ("meeting.participantLeft", "k2"),
                ("meeting.participantLeft", "k1"), ("meeting.ended", ""),
            ]  # fmt: skip


def test_chat_transcript_and_summary_are_announced_with_fresh_links(
    world: tuple[World, Receiver],
) -> None:
    """An ended session's chat and transcript are exported by the server itself and
    announced (chatSynced, transcript), after `meeting.ended`; the summary when it is made.
    A session without chat or transcript announces neither."""
    w, receiver = world
    client = Cloudflare(api_token=w.token, base_url=f"{w.server.base_url}/client/v4",
                        _strict_response_validation=True)  # fmt: skip
    hook = client.realtime_kit.webhooks.create_webhook(
        APP, account_id=ACCOUNT, name="files", url=receiver.url,
        events=["meeting.ended", "meeting.chatSynced", "meeting.transcript", "meeting.summary"],
    ).data  # fmt: skip
    said = [
        {"id": f"t{i}", "type": "transcript.segment", "meeting_id": "m-s", "peer_id": "s1",
         "occurred_at": at(1 + i), "text": f"We agreed to ship release {i} on Friday."}
        for i in range(3)
    ]  # fmt: skip
    chat = {"id": "c1", "type": "chat.message", "meeting_id": "m-s", "peer_id": "s1",
            "occurred_at": at(2), "message_id": "msg-1", "payload": "hello from the chat"}  # fmt: skip
    w.ingest([joined("m-s", "s1", 0), *said, chat, left("m-s", "s1", 10),
              joined("m-q", "q1", 0), left("m-q", "q1", 5)])  # fmt: skip
    mine = lambda ds: [d for d in ds if d.webhook_id == hook.id]  # noqa: E731
    receiver.wait_for(lambda ds: {"meeting.chatSynced", "meeting.transcript"}
                      <= {d.event for d in mine(ds)})  # fmt: skip
    [session] = client.realtime_kit.sessions.get_sessions(
        APP, account_id=ACCOUNT, associated_id="m-s"
    ).data.sessions  # type: ignore[union-attr]
    client.realtime_kit.sessions.generate_summary_of_transcripts(
        session.id, account_id=ACCOUNT, app_id=APP
    )
    receiver.wait_for(lambda ds: any(d.event == "meeting.summary" for d in mine(ds)))
    time.sleep(1)  # anything more for m-q would have come by now
    got = [d for d in receiver.accepted() if d.webhook_id == hook.id]
    assert all(d.verified for d in got)
    assert [d.event for d in got if d.body.get("meetingId", d.body.get("meeting", {}).get("id"))
            == "m-q"] == ["meeting.ended"]  # fmt: skip
    s_events = [d for d in got if d.body.get("sessionId") == session.id
                or d.body.get("meeting", {}).get("sessionId") == session.id]  # fmt: skip
    assert [d.event for d in s_events] == [
        "meeting.ended", "meeting.chatSynced", "meeting.transcript", "meeting.summary",
    ]  # fmt: skip
    by = {d.event: d.body for d in s_events}

    chat_body = by["meeting.chatSynced"]
    assert set(chat_body) == {"event", "sessionId", "meetingId", "title", "chatDownloadUrl",
                              "chatDownloadUrlExpiry", "createdAt", "startedAt", "endedAt",
                              "organizedBy"}  # fmt: skip
    assert chat_body["meetingId"] == "m-s" and chat_body["endedAt"] is not None
    assert "hello from the chat" in httpx.get(chat_body["chatDownloadUrl"], timeout=30).text

    transcript = by["meeting.transcript"]
    assert set(transcript) == {"event", "meeting", "transcriptDownloadUrl",
                               "transcriptDownloadUrlExpiry"}  # fmt: skip
    assert "release 2" in httpx.get(transcript["transcriptDownloadUrl"], timeout=30).text

    body = by["meeting.summary"]
    assert set(body) == {"event", "meeting", "summaryDownloadUrl", "summaryDownloadUrlExpiry"}
    assert body["meeting"]["sessionId"] == session.id and "endedAt" in body["meeting"]
    expiry = datetime.fromisoformat(body["summaryDownloadUrlExpiry"].replace("Z", "+00:00"))
    assert timedelta(minutes=50) < expiry - datetime.now(UTC) <= timedelta(hours=1)
    fetched = httpx.get(body["summaryDownloadUrl"], timeout=30)
    assert fetched.status_code == 200
    assert "release" in fetched.text
    served = client.realtime_kit.sessions.get_session_summary(
        session.id, account_id=ACCOUNT, app_id=APP
    ).data
    assert httpx.get(served.summary_download_url, timeout=30).text == fetched.text  # type: ignore[union-attr]
