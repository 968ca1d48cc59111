"""A meeting with chat, edits, a transcript and expiring files, shared by the file tests."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cloudflare
import httpx
from cloudflare import Cloudflare

ACCOUNT = "acct-files"


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


@dataclass
class Scenario:
    app: str
    meeting: str
    start: datetime
    old_meeting: str
    old_ended: datetime
    bare_meeting: str
    events: list[dict[str, Any]]


def _join(eid: str, meeting: str, when: datetime, peer: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "peer.joined",
        "meeting_id": meeting,
        "occurred_at": iso(when),
        "peer_id": peer,
        **extra,
    }


def _leave(eid: str, meeting: str, when: datetime, peer: str) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "peer.left",
        "meeting_id": meeting,
        "occurred_at": iso(when),
        "peer_id": peer,
    }


def _chat(
    eid: str, meeting: str, when: datetime, peer: str, mid: str, **body: Any
) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "chat.message",
        "meeting_id": meeting,
        "occurred_at": iso(when),
        "peer_id": peer,
        "message_id": mid,
        **body,
    }


def _segment(
    eid: str, meeting: str, start: datetime, peer: str, text: str, **extra: Any
) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "transcript.segment",
        "meeting_id": meeting,
        "occurred_at": iso(start),
        "started_at": iso(start),
        "peer_id": peer,
        "text": text,
        **extra,
    }


def build(app: str) -> Scenario:
    now = datetime.now(UTC).replace(microsecond=0)
    m, old, bare = (str(uuid.uuid4()) for _ in range(3))
    b = now - timedelta(hours=3)
    s = timedelta(seconds=1)
    # Its files expire (7-day retention) 30 minutes from now: within a link's 1 h, so links to
    # them are capped, and far from any test's duration (tests see expiry on a later clock).
    old_ended = now - timedelta(days=7) + timedelta(minutes=30)
    ev = [
        _join("j-a", m, b, "pa", display_name="Alice", user_id="u-a", custom_participant_id="c-a"),
        _join("j-b", m, b + 5 * s, "pb", display_name="Bob, Jr.", user_id="u-b"),
        _join("j-c", m, b + 15 * s, "pc"),  # no name: the peer id is the speaker name
        _chat("c1", m, b + 60 * s, "pa", "msg-1", payload='hello, "world" 👋'),
        _chat("c2", m, b + 120 * s, "pb", "msg-2", payload="line1\nline2, with comma"),
        _chat(
            "c2-edit",
            m,
            b + 180 * s,
            "pb",
            "msg-2",
            payload="line1\r\nline2 (edited)",
            is_edited=True,
            pinned=True,
        ),
        _chat("c3", m, b + 150 * s, "pa", "msg-3", payload="=SUM(A1:A2) 中文 עברית"),
        _chat(
            "c4",
            m,
            b + 240 * s,
            "pb",
            "msg-4",
            payload="https://example.com/cat.png",
            payload_type="IMAGE_MESSAGE",
        ),
        _segment(
            "s1",
            m,
            b + 10 * s,
            "pa",
            "Hello everyone, I will send the notes by Friday.",
            ended_at=iso(b + 14 * s),
        ),
        _segment("s2", m, b + 12 * s, "pb", "We decided to ship the release on Monday."),
        _segment("s3", m, b + 20 * s, "pc", "Sounds good to me."),
        _segment("s4", m, b + 22 * s, "pa", "Let's <decide> & ship --> now"),
        _segment("p1", m, b + 23 * s, "pb", "partial words", is_partial=True),
        _leave("l-b", m, b + 50 * 60 * s, "pb"),
        _leave("l-c", m, b + 55 * 60 * s, "pc"),
        _leave("l-a", m, b + 60 * 60 * s, "pa"),
        # A session that ended almost 7 days ago: its files expire 30 minutes from now.
        _join("j-x", old, old_ended - timedelta(minutes=10), "px", display_name="Xena"),
        _chat("cx", old, old_ended - timedelta(minutes=5), "px", "msg-x", payload="old"),
        _leave("l-x", old, old_ended, "px"),
        # A session with neither chat nor transcript.
        _join("j-y", bare, b, "py"),
        _leave("l-y", bare, b + 60 * s, "py"),
    ]
    return Scenario(app, m, b, old, old_ended, bare, ev)


def ingest(server: Any, app: str, events: list[dict[str, Any]]) -> None:
    token = server.token(ACCOUNT, "ingest", app=app)
    url = f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events"
    resp = httpx.post(url, json=events, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code == 200, resp.text


def sdk(server: Any, token: str) -> Cloudflare:
    return Cloudflare(
        api_token=token, base_url=f"{server.base_url}/client/v4", _strict_response_validation=True
    )


def session_of(client: Cloudflare, sc: Scenario, meeting: str) -> str:
    resp = client.realtime_kit.sessions.get_sessions(
        sc.app, account_id=ACCOUNT, associated_id=meeting
    )
    [session] = resp.data.sessions
    return session.id


def download(url: str) -> httpx.Response:
    resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-disposition"].startswith("attachment; filename=")
    return resp


def expiry_of(url: str) -> int:
    """The expiry a local signed link carries, in ms."""
    return int(parse_qs(urlsplit(url).query)["expires"][0]) * 1000


def wait_for_summary(client: Cloudflare, sc: Scenario, sid: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            got = client.realtime_kit.sessions.get_session_summary(
                sid, account_id=ACCOUNT, app_id=sc.app
            )
            assert got.data is not None
            return got.data
        except cloudflare.NotFoundError as exc:
            assert "being generated" in str(exc), str(exc)
            assert time.monotonic() < deadline, "summary did not complete in time"
            time.sleep(0.3)
