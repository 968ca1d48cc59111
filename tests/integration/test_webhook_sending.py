"""Sending deliveries against the real database and a real receiver on loopback: the SSRF
rule, Retry-After, one attempt at a time under concurrent workers, and disabling a webhook
that keeps failing."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from rtk_sessions.auth import repo as auth_repo
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.webhooks import repo, service
from rtk_sessions.webhooks.events import PeerState, SessionState, changes
from rtk_sessions.webhooks.keys import load_or_create_key, public_pem
from rtk_sessions.webhooks.outbox import owe_events
from rtk_sessions.webhooks.sending import Policy, deliver_lane
from webhook_receiver import Receiver, receiving

POLICY = Policy(timeout_s=2, allow_private=True, max_attempts=5, base_ms=50, disable_after_ms=10**9)


def no_link(key: str, expires: int | None, now: int) -> tuple[str, int]:
    raise AssertionError("no file event here")


@pytest.fixture
def key(tmp_path: Path) -> rsa.RSAPrivateKey:
    return load_or_create_key(tmp_path)


@pytest.fixture
def receiver(key: rsa.RSAPrivateKey) -> Iterator[Receiver]:
    with receiving(public_pem(key)) as r:
        yield r


async def _app_with_hook(db: Database, app_id: str, url: str) -> tuple[AppRef, str]:
    async with db.write() as conn:
        await auth_repo.ensure_app(conn, "acct-sending", app_id, now_ms())
        pk = await auth_repo.get_app_pk(conn, "acct-sending", app_id)
    assert pk is not None
    app = AppRef(pk, app_id)
    body = {"name": "n", "url": url, "events": ["meeting.started", "meeting.participantJoined"]}
    hook = await service.create_webhook(db, app, body, now_ms())
    return app, hook.id


async def _owe_a_meeting(db: Database, app: AppRef, meeting: str) -> None:
    s = SessionState(f"s-{meeting}", meeting, "t", 1_780_000_000_000, None,
                     (PeerState("p", None, None, 1_780_000_000_000, None),))  # fmt: skip
    async with db.write() as conn:
        await owe_events(
            conn, await repo.subscribed(conn, app.pk), changes(app.app_id, [], [s]), now_ms()
        )


async def test_private_addresses_are_refused_unless_allowed(
    db: Database,
    app_id: str,
    key: rsa.RSAPrivateKey,
    receiver: Receiver,
) -> None:
    app, hook = await _app_with_hook(db, app_id, receiver.url)
    await _owe_a_meeting(db, app, "m")
    strict = Policy(2, False, 5, 50, 10**9)
    made = await deliver_lane(db, key, strict, (hook, "m"), random.Random(1), no_link)
    assert made == 2  # refused for good, so the lane went on to the next one
    assert receiver.deliveries == []
    async with db.read() as conn:
        log, _ = await repo.attempts_log(conn, hook, 10, 0)
    assert {(a.status_code, a.state) for a in log} == {(None, "failed")}
    assert all("private, loopback or link-local" in (a.error or "") for a in log)
    assert all("127.0.0.1" not in (a.error or "") for a in log)


async def test_retry_after_is_honoured_and_one_worker_sends_at_a_time(
    db: Database,
    app_id: str,
    key: rsa.RSAPrivateKey,
    receiver: Receiver,
) -> None:
    app, hook = await _app_with_hook(db, app_id, receiver.url)
    calls: list[str] = []

    def answer(body: dict[str, object], rtk_uuid: str) -> int:
        calls.append(body["event"])
        time.sleep(0.3)  # slow, so the other worker tries while this one sends
        return 429 if len(calls) == 1 else 200

    receiver.answer = answer
    await _owe_a_meeting(db, app, "m")
    lane = (hook, "m")
    made = await asyncio.gather(*(
        deliver_lane(db, key, POLICY, lane, random.Random(i), no_link) for i in range(3)
    ))  # fmt: skip
    assert sum(made) == 1 and calls == ["meeting.started"]  # one attempt, then it waits
    async with db.read() as conn:
        head = await repo.lane_head(conn, lane)
    assert head is not None and head.attempts == 1
    # No Retry-After: the wait is the backoff (50 ms); with one, what it asks.
    receiver.answer = lambda body, rtk_uuid: 200
    await asyncio.sleep(0.1)
    assert await deliver_lane(db, key, POLICY, lane, random.Random(), no_link) == 2
    assert [d.answered for d in receiver.deliveries] == [429, 200, 200]
    assert receiver.deliveries[0].uuid == receiver.deliveries[1].uuid


async def test_retry_after_header_postpones_the_retry(
    db: Database,
    app_id: str,
    key: rsa.RSAPrivateKey,
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Busy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(503)
            self.send_header("Retry-After", "120")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        app, hook = await _app_with_hook(db, app_id, url)
        await _owe_a_meeting(db, app, "m")
        before = now_ms()
        await deliver_lane(db, key, POLICY, (hook, "m"), random.Random(), no_link)
        async with db.read() as conn:
            head = await repo.lane_head(conn, (hook, "m"))
        assert head is not None
        assert 119_000 <= head.next_attempt_at - before <= 125_000
    finally:
        server.shutdown()
        server.server_close()


async def test_a_webhook_failing_long_enough_is_disabled_and_says_so(
    db: Database,
    app_id: str,
    key: rsa.RSAPrivateKey,
    receiver: Receiver,
) -> None:
    receiver.answer = lambda body, rtk_uuid: 500
    app, hook = await _app_with_hook(db, app_id, receiver.url)
    await _owe_a_meeting(db, app, "m")
    quick = Policy(2, True, 10, 1, disable_after_ms=300)
    deadline = time.monotonic() + 20
    while True:
        await deliver_lane(db, key, quick, (hook, "m"), random.Random(), no_link)
        row = await service.get_webhook(db, app, hook)
        if not row.enabled or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert not row.enabled
    assert row.disabled_reason is not None and "every delivery failed since" in row.disabled_reason
    assert "HTTP 500" in row.disabled_reason
    sent = len(receiver.deliveries)
    await asyncio.sleep(0.1)
    assert await deliver_lane(db, key, quick, (hook, "m"), random.Random(), no_link) == 0
    assert len(receiver.deliveries) == sent
    # Enabling it again clears the failure and resumes the delivery.
    receiver.answer = lambda body, rtk_uuid: 200
    again = await service.change_webhook(db, app, hook, {"enabled": True}, now_ms(), replace=False)
    assert again.enabled and again.disabled_reason is None and again.failing_since is None
    await deliver_lane(db, key, quick, (hook, "m"), random.Random(), no_link)
    assert [d.answered for d in receiver.deliveries][-2:] == [200, 200]
    assert uuid.UUID(receiver.deliveries[-1].uuid)


async def test_the_pump_gives_a_failing_webhook_one_lane_at_a_time(
    database_url: str, app_id: str, tmp_path: Path
) -> None:
    """Three meetings owe deliveries: all three lanes are enqueued for a healthy webhook,
    one for a failing one (its dead endpoint must not fill the job workers)."""
    from rtk_sessions.config import Settings
    from rtk_sessions.upkeep.jobs import build_state
    from rtk_sessions.webhooks.jobs import Pump

    state = build_state(Settings(data_dir=tmp_path, database_url=database_url, job_workers=0))
    try:
        healthy_app, healthy = await _app_with_hook(state.db, app_id, "https://example.com/a")
        failing_app, failing = await _app_with_hook(
            state.db, f"{app_id}-f", "https://example.com/b"
        )
        for app in (healthy_app, failing_app):
            for meeting in ("m1", "m2", "m3"):
                await _owe_a_meeting(state.db, app, meeting)
        async with state.db.write() as conn:
            await repo.update_webhook(conn, failing, failing_since=now_ms())
        pump = Pump(state)  # (the database is shared: other tests' lanes are left out)
        await pump.once()
        mine = {lane: seen for lane, seen in pump.enqueued.items() if lane[0] in (healthy, failing)}
        assert {m for w, m in mine if w == healthy} == {"m1", "m2", "m3"}
        assert len([m for w, m in mine if w == failing]) == 1
        assert state.jobs.pending() >= 4
        await pump.once()  # all of them are still queued: none is enqueued again
        again = {lane: seen for lane, seen in pump.enqueued.items() if lane in mine}
        assert again == mine
        assert len([w for w, _ in pump.enqueued if w == failing]) == 1
    finally:
        state.jobs.huey.flush()
        await state.db.dispose()


async def test_a_webhook_deleted_while_a_delivery_is_out_records_nothing(
    db: Database,
    app_id: str,
    key: rsa.RSAPrivateKey,
    receiver: Receiver,
) -> None:
    """The delete wins: the attempt that comes back afterwards is not written (it would
    refer to a webhook that is gone), and the job ends without an error."""
    arrived, released = threading.Event(), threading.Event()

    def answer(body: dict[str, object], rtk_uuid: str) -> int:
        arrived.set()
        released.wait(10)
        return 200

    receiver.answer = answer
    app, hook = await _app_with_hook(db, app_id, receiver.url)
    await _owe_a_meeting(db, app, "m")
    sending = asyncio.create_task(
        deliver_lane(db, key, POLICY, (hook, "m"), random.Random(), no_link)
    )
    assert await asyncio.to_thread(arrived.wait, 10)
    await service.delete_webhook(db, app, hook)
    released.set()
    assert await sending == 1
    async with db.read() as conn:
        assert await repo.webhook_by_id(conn, hook) is None
        log, total = await repo.attempts_log(conn, hook, 10, 0)
    assert (log, total) == ([], 0)
