"""Summaries on end, end to end: an app set with the real CLI (`app set --summarize-on-end`),
events in over HTTP, a real server whose summary pump and job workers make the summaries,
the official SDK reading them, and a real receiver verifying each `meeting.summary`.

A session that ends with final transcript segments is summarized by itself, once, including
one the idle sweep ends; one without segments, or with interim ones only, is left without a
summary; a segment arriving after the end makes a new summary and a new `meeting.summary`.
(Which requests ingestion writes, and that replays and rebuilds write none, is checked
row by row in integration/test_summarize_on_end.py.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import pytest
from cloudflare import Cloudflare

from support import Server, own_database, running_server
from webhook_receiver import Delivery, Receiver, receiving

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-on-end"
APP = "app-on-end"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
SETTINGS = {
    "RTK_WEBHOOK_ALLOW_PRIVATE": "true",
    "RTK_SWEEP_INTERVAL": "0.5",
    "RTK_SESSION_IDLE_TIMEOUT": "4",
    "RTK_AUTH_FAILURE_LIMIT": "off",
}
Event = dict[str, Any]


def at(minutes: float) -> str:
    moment = T0 + timedelta(minutes=minutes)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ev(eid: str, etype: str, meeting: str, minutes: float, peer: str, **body: Any) -> Event:
    return {"id": eid, "type": etype, "meeting_id": meeting, "occurred_at": at(minutes),
            "peer_id": peer, **body}  # fmt: skip


def said(
    eid: str, meeting: str, peer: str, minutes: float, text: str, partial: bool = False
) -> Event:
    return ev(eid, "transcript.segment", meeting, minutes, peer, text=text, is_partial=partial)


LINES = [
    "Let us review the launch budget for the spring campaign before Friday.",
    "The design team needs two more weeks to finish the onboarding screens.",
    "We agreed to move the launch date to the second week of April.",
    "Marketing will prepare the announcement and share a draft on Monday.",
]


def meeting(name: str, *, lines: int = 4, partial: bool = False, leave: bool = True) -> list[Event]:
    a, b = f"{name}-a", f"{name}-b"
    out = [ev(f"j-{a}", "peer.joined", name, 0, a, display_name="Ana"),
           ev(f"j-{b}", "peer.joined", name, 1, b, display_name="Ben")]  # fmt: skip
    out += [
        said(f"{name}-s{i}", name, (a, b)[i % 2], 2 + i, LINES[i], partial) for i in range(lines)
    ]
    if leave:
        out += [ev(f"l-{a}", "peer.left", name, 20, a), ev(f"l-{b}", "peer.left", name, 21, b)]
    return out


class World:
    def __init__(self, server: Server, token: str, receiver: Receiver) -> None:
        self.server = server
        self.token = token
        self.receiver = receiver
        self.sdk = Cloudflare(api_token=token, base_url=f"{server.base_url}/client/v4",
                              _strict_response_validation=True)  # fmt: skip

    def ingest(self, events: list[Event]) -> None:
        resp = httpx.post(
            f"{self.server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{APP}/events",
            json=events, headers={"Authorization": f"Bearer {self.token}"}, timeout=30,
        )  # fmt: skip
        assert resp.status_code == 200, resp.text

    def session_of(self, meeting_id: str) -> Any:
        found = self.sdk.realtime_kit.sessions.get_sessions(
            APP, account_id=ACCOUNT, associated_id=meeting_id
        )
        assert found.data is not None and found.data.sessions is not None
        (session,) = found.data.sessions
        return session

    def summary_state(self, session_id: str) -> str:
        """`ready`, or the 404's message."""
        try:
            got = self.sdk.realtime_kit.sessions.get_session_summary(
                session_id, account_id=ACCOUNT, app_id=APP
            )
        except cloudflare.NotFoundError as exc:
            return str(exc)
        assert got.data is not None and got.data.summary_download_url
        return "ready"

    def wait_until(self, session_id: str, done: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        state = ""
        while time.monotonic() < deadline:
            state = self.summary_state(session_id)
            assert "generation failed" not in state, state
            if done in state:
                return
            time.sleep(0.3)
        raise AssertionError(f"summary of {session_id}: still {state!r} after {seconds} s")

    def summaries_of(self, session_id: str, seen: list[Delivery] | None = None) -> list[Delivery]:
        """The accepted `meeting.summary` deliveries of this session (in `seen`, as
        `Receiver.wait_for` passes them, or all so far)."""
        seen = self.receiver.accepted() if seen is None else seen
        return [
            d for d in seen
            if d.event == "meeting.summary" and d.body["meeting"]["sessionId"] == session_id
            and 200 <= d.answered < 300
        ]  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    (tmp_path / "data").mkdir()
    with own_database(tmp_path) as url, running_server(tmp_path / "data", url, **SETTINGS) as srv:
        public_key = httpx.get(f"{srv.base_url}/.well-known/webhooks.json").json()["data"]
        with receiving(public_key["publicKey"]) as receiver:
            token = srv.token(ACCOUNT, "admin", "ingest", "read", app=APP)
            yield World(srv, token, receiver)


def test_sessions_are_summarized_when_they_end(world: World) -> None:
    srv = world.server
    answer = srv.cli("app", "set", "--account", ACCOUNT, "--app", APP, "--summarize-on-end")
    assert "summarizes sessions with transcript segments when they end" in answer
    assert f"{ACCOUNT}/{APP}  -  summarize-on-end" in srv.cli("app", "list").splitlines()
    world.sdk.realtime_kit.webhooks.create_webhook(
        APP, account_id=ACCOUNT, name="bot", url=world.receiver.url, events=["meeting.summary"]
    )

    world.ingest(
        meeting("spoken") + meeting("quiet", lines=0) + meeting("interim", partial=True)
        + meeting("idle", leave=False)
    )  # fmt: skip
    spoken, quiet, interim, idle = (
        world.session_of(m).id for m in ("spoken", "quiet", "interim", "idle")
    )
    assert "has no summary; POST to generate one" in world.summary_state(quiet)
    world.wait_until(spoken, "ready")
    world.receiver.wait_for(lambda seen: len(world.summaries_of(spoken, seen)) == 1)
    (first,) = world.summaries_of(spoken)
    assert first.verified
    assert set(first.body) == {"event", "meeting", "summaryDownloadUrl", "summaryDownloadUrlExpiry"}
    text = httpx.get(first.body["summaryDownloadUrl"], timeout=30).text
    assert "launch" in text.lower(), text

    # The idle sweep ends the session whose peers never left (RTK_SESSION_IDLE_TIMEOUT=4).
    world.wait_until(idle, "ready")
    assert world.session_of("idle").status == "ENDED"
    world.receiver.wait_for(lambda seen: len(world.summaries_of(idle, seen)) == 1)

    # Interim segments only: the request is withdrawn, not failed.
    world.wait_until(interim, "has no summary; POST to generate one")
    assert "has no summary" in world.summary_state(quiet)

    # A segment after the end changes the transcript: a new summary, announced again.
    world.ingest([said("spoken-late", "spoken", "spoken-a", 19, "Ben will book the venue.")])
    world.receiver.wait_for(lambda seen: len(world.summaries_of(spoken, seen)) == 2)
    second = world.summaries_of(spoken)[1]
    assert second.uuid != first.uuid
    assert world.summary_state(spoken) == "ready"
    assert not world.summaries_of(quiet) and not world.summaries_of(interim)

    srv.cli("app", "set", "--account", ACCOUNT, "--app", APP, "--no-summarize-on-end")
    assert f"{ACCOUNT}/{APP}  -" in srv.cli("app", "list").splitlines()
