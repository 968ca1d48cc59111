"""kit/cpu: work in worker processes comes back whole, errors keep their meaning, and a pool
survives a worker that dies. Real processes (the fork server and its workers)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator

import pytest

from rtk_sessions.auth.service import check_ids
from rtk_sessions.ingest.schemas import VALID_EVENTS
from rtk_sessions.ingest.validation import BatchRefused, read_batch
from rtk_sessions.kit import cpu
from rtk_sessions.kit.errors import BadRequest
from support import running

NOW = 1_780_480_800_000


@pytest.fixture(autouse=True)
def one_worker() -> Iterator[None]:
    cpu.shutdown()
    cpu.configure(requests=1, jobs=1)
    yield
    cpu.shutdown()


async def test_an_error_keeps_its_status_message_and_details() -> None:
    with pytest.raises(BadRequest) as exc:
        await cpu.run(cpu.REQUESTS, check_ids, app_id="not an id")
    assert exc.value.status == 400 and exc.value.message.startswith("app_id 'not an id'")
    body = json.dumps([{"id": "x"}]).encode()
    with pytest.raises(BadRequest) as exc:
        await cpu.run(cpu.REQUESTS, read_batch, body, None, None, NOW)
    assert exc.value.message == "1 invalid event; nothing was stored"
    assert [e["message"] for e in exc.value.details] == [
        "events[0].type: required for every event",
        "events[0].meeting_id: required for every event",
        "events[0].occurred_at: required for every event",
    ]


async def test_a_long_list_comes_back_whole_and_in_order() -> None:
    events = [{"id": f"e{n}", "type": "meeting.ended", "meeting_id": "m",
               "occurred_at": NOW - n} for n in range(1234)]  # fmt: skip
    body = json.dumps(events).encode()
    got = await cpu.run_list(cpu.REQUESTS, VALID_EVENTS, read_batch, body, None, None, NOW)
    assert got == read_batch(body, None, None, NOW)
    assert [e.id for e in got] == [f"e{n}" for n in range(1234)]


async def test_a_worker_that_dies_fails_its_call_and_the_next_call_works() -> None:
    worker = await cpu.run(cpu.REQUESTS, os.getpid)
    assert worker != os.getpid()
    sleeping = asyncio.ensure_future(cpu.run(cpu.REQUESTS, time.sleep, 30))
    await asyncio.sleep(0.5)
    os.kill(worker, signal.SIGKILL)
    with pytest.raises(cpu.WorkerDied):
        await asyncio.wait_for(sleeping, 20)
    assert await cpu.run(cpu.REQUESTS, os.getpid) not in (worker, os.getpid())


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_shutdown_ends_the_workers() -> None:
    worker = cpu.call(cpu.JOBS, os.getpid)
    assert running(worker)
    cpu.shutdown()
    deadline = time.monotonic() + 20
    while running(worker):
        assert time.monotonic() < deadline, "the worker outlived shutdown()"
        time.sleep(0.1)


async def test_a_refused_batch_keeps_its_count_of_events() -> None:
    body = json.dumps([{"id": "x"}, {"id": "y"}]).encode()
    with pytest.raises(BatchRefused) as exc:
        await cpu.run(cpu.REQUESTS, read_batch, body, None, None, NOW)
    assert exc.value.events == 2 and {d["index"] for d in exc.value.details} == {0, 1}
