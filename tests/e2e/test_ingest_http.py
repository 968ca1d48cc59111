"""End to end over real HTTP: what a producer can get wrong when posting events.

Every mistake gets the right 4xx with a message that says what to fix, and a refused batch
leaves nothing behind: the pending listing does not move, the sessions API does not change,
and every valid event of the refused batch is accepted (not a duplicate) when posted again.
Contract: docs/events.md.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-ingest-http"
T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
MIB = 1024 * 1024


def at(minutes: float) -> str:
    return iso(T0 + timedelta(minutes=minutes))


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_now(**delta: float) -> str:
    return iso(datetime.now(UTC) + timedelta(**delta))


def event(eid: str, etype: str, meeting: str, minutes: float, **fields: Any) -> dict[str, Any]:
    return {"id": eid, "type": etype, "meeting_id": meeting, "occurred_at": at(minutes), **fields}


def join(eid: str, meeting: str, minutes: float, peer: str, **fields: Any) -> dict[str, Any]:
    return event(eid, "peer.joined", meeting, minutes, peer_id=peer, **fields)


def left(eid: str, meeting: str, minutes: float, peer: str) -> dict[str, Any]:
    return event(eid, "peer.left", meeting, minutes, peer_id=peer)


def chat(eid: str, meeting: str, minutes: float, peer: str) -> dict[str, Any]:
    return event(eid, "chat.message", meeting, minutes, peer_id=peer, message_id=eid, payload="hi")


def gzipped_zeros(megabytes: int) -> bytes:
    """One gzip stream that inflates to `megabytes` MiB of zero bytes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(MIB)
    return b"".join([*(packer.compress(chunk) for _ in range(megabytes)), packer.flush()])


@dataclass(frozen=True)
class Tokens:
    ingest: str
    read: str


@pytest.fixture(scope="module")
def tokens(server: Any) -> Tokens:
    """Account-wide tokens, made by the real CLI (in parallel: each run takes about a second)."""
    with ThreadPoolExecutor(2) as pool:
        ingest = pool.submit(server.token, ACCOUNT, "ingest")
        read = pool.submit(server.token, ACCOUNT, "read")
        return Tokens(ingest.result(), read.result())


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


class Api:
    """One app of ACCOUNT, seen through the ingestion API and the sessions API."""

    def __init__(self, base_url: str, http: httpx.Client, tokens: Tokens, app: str) -> None:
        self.base, self.http, self.tokens, self.app = base_url, http, tokens, app
        self.ingest_url = f"{base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}"

    def post(
        self, events: Any = None, *, content: bytes | None = None, **headers: str
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {self.tokens.ingest}", **headers}
        if content is None:
            content = json.dumps(events).encode()
            sent.setdefault("Content-Type", "application/json")
        return self.http.post(f"{self.ingest_url}/events", content=content, headers=sent)

    def ok(self, events: Any = None, *, content: bytes | None = None, **headers: str) -> Any:
        """Post, insist on 200 with exactly the documented body, return (accepted, dup, pending)."""
        resp = self.post(events, content=content, **headers)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("application/json")
        body = resp.json()
        assert set(body) == {"success", "data"} and body["success"] is True, body
        data = body["data"]
        assert set(data) == {"accepted", "duplicates", "pending"}, data
        assert all(type(v) is int for v in data.values()), data
        return data["accepted"], data["duplicates"], data["pending"]

    def pending(self) -> dict[str, Any]:
        resp = self.http.get(
            f"{self.ingest_url}/pending", headers={"Authorization": f"Bearer {self.tokens.ingest}"}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["success"] is True
        data: dict[str, Any] = resp.json()["data"]
        assert data["total_count"] == len(data["events"])  # small apps: one page
        return data

    def read(self, tail: str = "", **params: Any) -> httpx.Response:
        url = f"{self.base}/client/v4/accounts/{ACCOUNT}/realtime/kit/{self.app}/sessions{tail}"
        return self.http.get(
            url, params=params, headers={"Authorization": f"Bearer {self.tokens.read}"}
        )

    def sessions(self, **params: Any) -> list[dict[str, Any]]:
        resp = self.read(per_page=100, **params)
        assert resp.status_code == 200, resp.text
        rows: list[dict[str, Any]] = resp.json()["data"]["sessions"]
        return rows

    def assert_app_absent(self) -> None:
        """The app was never created: the read API does not know it, nothing is pending."""
        assert_error(self.read(), 404, f"No app found with id {self.app}")
        assert self.pending() == {"events": [], "total_count": 0}


def assert_error(resp: httpx.Response, status: int, *needles: str) -> dict[str, Any]:
    """Exactly `{"success": false, "error": {"code", "message"}, "errors": [...]}`."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    assert set(body) == {"success", "error", "errors"} and body["success"] is False, body
    assert set(body["error"]) == {"code", "message"} and body["error"]["code"] == status, body
    message = body["error"]["message"]
    for needle in needles:
        assert needle in message, (needle, message)
    assert isinstance(body["errors"], list) and body["errors"], body
    return body


def assert_plain_error(resp: httpx.Response, status: int, *needles: str) -> str:
    """An error about the whole request: `errors` mirrors `error` (code = HTTP status)."""
    body = assert_error(resp, status, *needles)
    message: str = body["error"]["message"]
    assert body["errors"] == [{"code": status, "message": message}], body
    return message


def assert_invalid_events(resp: httpx.Response, count: int) -> list[dict[str, Any]]:
    body = assert_error(resp, 400)
    noun = "event" if count == 1 else "events"
    assert body["error"]["message"] == f"{count} invalid {noun}; nothing was stored", body
    for entry in body["errors"]:
        assert set(entry) <= {"code", "message", "index", "id"}, entry
        assert entry["code"] == 400 and isinstance(entry["index"], int), entry
        assert entry["message"].startswith(f"events[{entry['index']}]"), entry
    assert len({e["index"] for e in body["errors"]}) == count, body
    errors: list[dict[str, Any]] = body["errors"]
    return errors


@pytest.fixture
def api(server: Any, http: httpx.Client, tokens: Tokens, app_id: str) -> Api:
    return Api(server.base_url, http, tokens, app_id)


@pytest.fixture(scope="module")
def shared(server: Any, http: httpx.Client, tokens: Tokens) -> Api:
    """One app for the many refusal cases; seeded with one session and one pending event."""
    shared_api = Api(server.base_url, http, tokens, f"app-{uuid.uuid4().hex[:12]}")
    seed = [join("seed-j", "seed-m", 0, "seed-p"), left("seed-orphan", "seed-m", 5, "nobody")]
    assert shared_api.ok(seed) == (2, 0, 1)
    return shared_api


# --- accepted shapes ------------------------------------------------------------------------


def test_array_and_events_object_are_accepted_with_the_exact_body(api: Api) -> None:
    title = {"id": "t1", "type": "meeting.updated", "meeting_id": "m1", "occurred_at": at(-1),
             "title": "Standup", "some_future_field": {"ignored": True}}  # fmt: skip
    assert api.ok([title, join("j1", "m1", 0, "p1")]) == (2, 0, 0)
    assert api.ok({"events": [left("l1", "m1", 30, "p1")]}) == (1, 0, 0)
    [session] = api.sessions()
    assert (session["associated_id"], session["meeting_display_name"]) == ("m1", "Standup")
    assert (session["started_at"], session["ended_at"], session["status"]) == (
        at(0),
        at(30),
        "ENDED",
    )


def test_an_account_wide_ingest_token_creates_the_app_on_first_post(api: Api) -> None:
    api.assert_app_absent()
    assert api.ok([join("j1", "m1", 0, "p1")]) == (1, 0, 0)
    [session] = api.sessions()
    assert session["associated_id"] == "m1" and session["organization_id"] == api.app


def test_an_empty_batch_is_200_with_zeros(api: Api) -> None:
    assert api.ok([]) == (0, 0, 0)
    assert api.ok({"events": []}) == (0, 0, 0)
    assert api.ok(content=b"", **{"Content-Type": "application/x-ndjson"}) == (0, 0, 0)
    assert api.ok(content=b"\n \r\n\n", **{"Content-Type": "application/x-ndjson"}) == (0, 0, 0)


def test_boundary_values_are_accepted(api: Api) -> None:
    """The limits are inclusive, code points are counted, offsets and fractions parse."""
    events = [
        {**join("j1", "m1", 0, "p1"), "occurred_at": "2025-03-04T10:00:00.123999+01:00",
         "display_name": "😀" * 256},
        {**chat("c1", "m1", 1, "p1"), "payload": "é" * (32 * 1024)},  # 64 KiB of UTF-8
        event("i" * 128, "meeting.updated", "m" * 128, 0, title="t" * 256),
        {**event("ms", "meeting.updated", "m2", 0), "occurred_at": 946_684_800_000},
        {**event("soon", "meeting.updated", "m3", 0), "occurred_at": from_now(minutes=4)},
        event("tr", "transcript.segment", "m1", 2, peer_id="p1", text="x",
              started_at=at(2), ended_at=at(2), language="en-US"),
    ]  # fmt: skip
    assert api.ok(events) == (6, 0, 0)
    [session] = api.sessions(associated_id="m1")
    assert session["started_at"] == "2025-03-04T09:00:00.123Z"  # truncated, not rounded


def test_peer_strings_at_their_validated_limits_are_stored(api: Api) -> None:
    """Whatever validation lets through, the store must hold (PostgreSQL enforces lengths)."""
    limits = {"user_id": 256, "custom_participant_id": 256, "display_name": 256,
              "preset_name": 128, "socket_session_id": 256}  # fmt: skip
    fields = {name: "é" * n for name, n in limits.items()}
    assert api.ok([join("j1", "m1", 0, "p" * 128, **fields)]) == (1, 0, 0)
    [session] = api.sessions()
    resp = api.read(f"/{session['id']}/participants")
    assert resp.status_code == 200, resp.text
    [row] = resp.json()["data"]["participants"]
    assert row["id"] == "p" * 128
    for name in ("user_id", "custom_participant_id", "display_name", "preset_name"):
        assert row[name] == fields[name], name


def test_an_app_id_the_store_cannot_hold_is_never_a_server_error(api: Api) -> None:
    long_app = Api(api.base, api.http, api.tokens, "a" * 129)
    resp = long_app.post([join("j1", "m1", 0, "p1")])
    assert resp.status_code != 500, resp.text
    if resp.status_code == 200:
        assert len(long_app.sessions()) == 1
    else:
        assert_plain_error(resp, resp.status_code, "app")
        assert resp.status_code in (400, 404)


def test_a_nul_character_is_stored_or_refused_never_a_server_error(api: Api) -> None:
    """PostgreSQL text cannot hold U+0000; the service must cope with it either way."""
    resp = api.post([join("j1", "m1", 0, "p1", display_name="a\u0000b", meeting_title="x\u0000")])
    if resp.status_code == 400:
        assert_invalid_events(resp, 1)
    else:
        assert resp.status_code == 200, resp.text
        [session] = api.sessions()
        assert session["meeting_display_name"] == "x\u0000"


# --- one bad event spoils the batch, and nothing of it is stored ---------------------------


def test_one_batch_lists_every_invalid_event_and_stores_none(shared: Api) -> None:
    pending_before = shared.pending()
    batch = [
        join("mix-0", "mix-m", 0, "mix-p0"),
        event("mix-1", "peer.joind", "mix-m", 1, peer_id="mix-p1"),
        chat("mix-2", "mix-m", 2, "mix-p0"),
        {"id": 17, "type": "peer.left", "meeting_id": "mix m", "occurred_at": at(3)},
        "not an event",
        left("mix-5", "mix-m", 10, "mix-p0"),
    ]
    errors = assert_invalid_events(shared.post(batch), 3)
    got = [(e["index"], e.get("id"), e["message"].split(":")[0]) for e in errors]
    assert got == [
        (1, "mix-1", "events[1].type"),
        (3, None, "events[3].id"),
        (3, None, "events[3].meeting_id"),
        (3, None, "events[3].peer_id"),
        (4, None, "events[4]"),
    ]
    assert "'peer.joind' is not a known type; use one of meeting.updated" in errors[0]["message"]
    assert errors[3]["message"] == "events[3].peer_id: required for peer.left"
    assert errors[4]["message"] == "events[4]: must be a JSON object, not a string"
    assert shared.pending() == pending_before
    assert shared.sessions(associated_id="mix-m") == []
    valid = [batch[0], batch[2], batch[5]]
    assert shared.ok(valid) == (3, 0, pending_before["total_count"])
    assert len(shared.sessions(associated_id="mix-m")) == 1


NOW_PLUS_10_MIN = "now+10min"  # resolved when the case runs, so the clock is fresh


def _bad(etype: str, **fields: Any) -> dict[str, Any]:
    base = {"id": "bad-evt", "type": etype, "meeting_id": "bad-m", "occurred_at": at(0)}
    needs_peer = etype not in ("meeting.updated", "meeting.ended")
    return {**base, **({"peer_id": "bad-p"} if needs_peer else {}), **fields}


def _without(value: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in names}


SAMPLE = {"timestamp": at(0), "kind": "audio", "direction": "inbound", "ssrc": 1}
# (bad event, one tuple of required fragments per expected errors[] entry, in order)
BAD_EVENTS: dict[str, tuple[Any, list[tuple[str, ...]]]] = {
    "unknown type": (_bad("peer.join"), [(
        "events[1].type: 'peer.join' is not a known type; use one of meeting.updated, "
        "peer.joined, peer.left, meeting.ended, chat.message, transcript.segment, "
        "peer.metadata, peer.event, peer.stats",
    )]),
    "type not a string": (_bad("peer.joined", type=["peer.joined"]), [
        ("events[1].type: must be a string, one of meeting.updated", "not an array"),
    ]),
    "common fields missing": ({"peer_id": "p"}, [
        ("events[1].id: required for every event",),
        ("events[1].type: required for every event",),
        ("events[1].meeting_id: required for every event",),
        ("events[1].occurred_at: required for every event",),
    ]),
    "peer_id missing": (_without(_bad("peer.joined"), "peer_id"), [
        ("events[1].peer_id: required for peer.joined",),
    ]),
    "chat fields missing": (_bad("chat.message"), [
        ("events[1].message_id: required for chat.message",),
        ("events[1].payload: required for chat.message",),
    ]),
    "samples missing": (_bad("peer.stats"), [("events[1].samples: required for peer.stats",)]),
    "event name missing": (_bad("peer.event"), [("events[1].name: required for peer.event",)]),
    "text missing": (_bad("transcript.segment"), [
        ("events[1].text: required for transcript.segment",),
    ]),
    "title too long": (_bad("meeting.updated", title="t" * 257), [
        ("events[1].title: must be at most 256 characters (got 257)",),
    ]),
    "display name too long in code points": (_bad("peer.joined", display_name="😀" * 257), [
        ("events[1].display_name: must be at most 256 characters (got 257)",),
    ]),
    "preset name too long": (_bad("peer.joined", preset_name="p" * 129), [
        ("events[1].preset_name: must be at most 128 characters (got 129)",),
    ]),
    "leave reason too long": (_bad("peer.left", reason="r" * 129), [
        ("events[1].reason: must be at most 128 characters (got 129)",),
    ]),
    "message id too long": (_bad("chat.message", message_id="x" * 129, payload="hi"), [
        ("events[1].message_id: must be at most 128 characters (got 129)",),
    ]),
    "payload over 64 KiB of UTF-8": (_bad("chat.message", message_id="x", payload="é" * 32769), [
        ("events[1].payload: must be at most 64 KiB of UTF-8 (got 65538 bytes)",),
    ]),
    "segment text over 16 KiB": (_bad("transcript.segment", text="a" * (16 * 1024 + 1)), [
        ("events[1].text: must be at most 16 KiB of UTF-8 (got 16385 bytes)",),
    ]),
    "meta over 16 KiB": (_bad("meeting.updated", meta={"k": "v" * 16384}), [
        ("events[1].meta: must be at most 16 KiB serialized as JSON",),
    ]),
    "id too long": ({**_bad("meeting.updated"), "id": "e" * 129}, [
        ("events[1].id: must be 1–128 characters A-Z, a-z, 0-9, '.', '_', ':' or '-'",),
    ]),
    "id with a space": ({**_bad("meeting.updated"), "id": "evt 1"}, [
        ("events[1].id: must be 1–128 characters", "(got 'evt 1')"),
    ]),
    "empty meeting id": (_bad("meeting.updated", meeting_id=""), [
        ("events[1].meeting_id: must be 1–128 characters",),
    ]),
    "peer id of dots": (_bad("peer.joined", peer_id=".."), [
        ("events[1].peer_id: must contain a character other than '.'",),
    ]),
    "peer id a number": (_bad("peer.left", peer_id=42), [
        ("events[1].peer_id: must be a string of 1–128 characters", "not an integer"),
    ]),
    "explicit null": (_bad("meeting.updated", title=None), [
        ("events[1].title: must be a string, not null",),
    ]),
    "bad enum": (_bad("meeting.updated", session_type="webinar"), [
        ("events[1].session_type: must be one of meeting, livestream, participant (got 'webinar')",),
    ]),
    "bool as string": (_bad("chat.message", message_id="x", payload="p", pinned="yes"), [
        ("events[1].pinned: must be true or false, not a string",),
    ]),
    "nested peer event metadata": (_bad("peer.event", name="n", metadata={"a": {"b": 1}}), [
        ("events[1].metadata.a: must be a scalar (string, number, boolean or null), not an object",),
    ]),
    "empty samples": (_bad("peer.stats", samples=[]), [
        ("events[1].samples: must have at least 1 item(s)",),
    ]),
    "sample without kind": (_bad("peer.stats", samples=[_without(SAMPLE, "kind")]), [
        ("events[1].samples[0].kind: required",),
    ]),
    "sample from before 2000": (_bad("peer.stats", samples=[{**SAMPLE, "timestamp": 1}]), [
        ("events[1].samples[0].timestamp: 1 (1970-01-01T00:00:00.001Z) is before 2000-01-01",),
    ]),
    "segment ends before it starts": (
        _bad("transcript.segment", text="x", started_at=at(1), ended_at=at(0)),
        [("events[1].ended_at:", "is before started_at", "ended_at must be ≥ it")],
    ),
    "segment starts in the future": (
        _bad("transcript.segment", text="x", started_at=NOW_PLUS_10_MIN),
        [("events[1].started_at:", "is more than 5 minutes in the future")],
    ),
    "future occurred_at": (_bad("meeting.updated", occurred_at=NOW_PLUS_10_MIN), [
        ("events[1].occurred_at:", "is more than 5 minutes in the future (server time is ",
         "check the producer's clock"),
    ]),
    "before 2000": (_bad("meeting.updated", occurred_at="1999-12-31T23:59:59.999Z"), [
        ("events[1].occurred_at: 1999-12-31T23:59:59.999Z is before 2000-01-01T00:00:00Z",),
    ]),
    "epoch seconds instead of milliseconds": (_bad("meeting.updated", occurred_at=1741078800), [
        ("events[1].occurred_at: 1741078800 (1970-01-21T03:37:58.800Z) is before "
         "2000-01-01T00:00:00Z; integer timestamps are epoch milliseconds",),
    ]),
    "no offset": (_bad("meeting.updated", occurred_at="2025-03-04T09:00:00"), [
        ("events[1].occurred_at: not an RFC 3339 timestamp (got '2025-03-04T09:00:00')",
         "with 'Z' or an offset like '+02:00', or integer epoch milliseconds"),
    ]),
    "not a calendar date": (_bad("meeting.updated", occurred_at="2025-02-30T09:00:00Z"), [
        ("events[1].occurred_at: not an RFC 3339 timestamp",),
    ]),
    "US date format": (_bad("meeting.updated", occurred_at="03/04/2025 09:00"), [
        ("events[1].occurred_at: not an RFC 3339 timestamp (got '03/04/2025 09:00')",),
    ]),
    "fractional epoch": (_bad("meeting.updated", occurred_at=1741078800000.5), [
        ("events[1].occurred_at: must be an RFC 3339 timestamp string or integer epoch "
         "milliseconds, not a number",),
    ]),
    "boolean timestamp": (_bad("meeting.updated", occurred_at=True), [
        ("events[1].occurred_at: must be an RFC 3339", "not a boolean"),
    ]),
    "trailing newline in timestamp": (_bad("meeting.updated", occurred_at=at(0) + "\n"), [
        ("events[1].occurred_at: not an RFC 3339 timestamp",),
    ]),
    "offset minutes out of range": (
        _bad("meeting.updated", occurred_at="2025-03-04T09:00:00+05:99"),
        [("events[1].occurred_at: not an RFC 3339 timestamp",)],
    ),
    "non-ASCII digits in timestamp": (
        _bad("meeting.updated", occurred_at="２０２５-03-04T09:00:00Z"),
        [("events[1].occurred_at: not an RFC 3339 timestamp",)],
    ),
    "a number instead of an event": (42, [("events[1]: must be a JSON object, not an integer",)]),
    "null instead of an event": (None, [("events[1]: must be a JSON object, not null",)]),
    "an array instead of an event": ([_bad("meeting.updated")], [
        ("events[1]: must be a JSON object, not an array",),
    ]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_EVENTS))
def test_an_invalid_event_is_refused_with_what_to_fix_and_nothing_is_stored(
    shared: Api, case: str
) -> None:
    bad, expected = BAD_EVENTS[case]
    tag = uuid.uuid4().hex[:10]
    sent = json.dumps(bad).replace(NOW_PLUS_10_MIN, from_now(minutes=10))
    bad = json.loads(sent.replace('"bad-evt"', f'"bad-{tag}"'))  # a bug must not spoil others
    good = join(f"good-{tag}", f"m-{tag}", 0, f"p-{tag}")
    pending_before = shared.pending()

    errors = assert_invalid_events(shared.post([good, bad]), 1)

    assert [e["index"] for e in errors] == [1] * len(expected), errors
    for entry, fragments in zip(errors, expected, strict=True):
        for fragment in fragments:
            assert fragment in entry["message"], (fragment, entry["message"])
        bad_id = bad.get("id") if isinstance(bad, dict) else None
        assert entry.get("id") == (bad_id if isinstance(bad_id, str) else None), entry
    assert shared.pending() == pending_before
    assert shared.sessions(associated_id=f"m-{tag}") == []
    assert shared.ok([good]) == (1, 0, pending_before["total_count"])


def test_an_event_with_many_problems_lists_twenty_and_counts_the_rest(shared: Api) -> None:
    samples = [_without(SAMPLE, "kind") for _ in range(25)]
    bad = _bad("peer.stats", id="many-problems", samples=samples)
    errors = assert_invalid_events(shared.post([bad]), 1)
    assert len(errors) == 20
    assert [e["message"] for e in errors[:2]] == [
        "events[0].samples[0].kind: required",
        "events[0].samples[1].kind: required",
    ]
    assert errors[-1]["message"] == "events[0]: 6 more problems not listed"
    assert {e["id"] for e in errors} == {"many-problems"}


def test_a_huge_refusal_lists_100_problems_and_echoes_short_values(api: Api) -> None:
    """Issue 8: a 1 MB event id was echoed whole; 5,000 invalid events made a 15 MB body."""
    batch = [event("i" * MIB, "peer.gone", "m1", 0)]
    batch += [event(f"e{n}", "peer.gone", "m1", 0) for n in range(4999)]
    resp = api.post(batch)
    message = "5000 invalid events; nothing was stored (the first 100 of 5001 problems are listed)"
    body = assert_error(resp, 400)
    assert body["error"]["message"] == message
    assert len(resp.content) < 40_000, len(resp.content)
    errors = body["errors"]
    assert len(errors) == 100 and errors[0]["id"] == "i" * 199 + "…"
    assert [e["index"] for e in errors] == [0, *range(99)]
    api.assert_app_absent()


# --- the body as a whole --------------------------------------------------------------------


MALFORMED_BODIES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "truncated JSON": (b'[{"id": "a", "type": ', ("body is not valid JSON",)),
    "trailing garbage": (b"[] []", ("body is not valid JSON",)),
    "empty body": (b"", ("body is empty", "JSON array of events")),
    "whitespace only": (b"  \n", ("body is empty",)),
    "a string": (
        b'"peer.joined"',
        ('body must be a JSON array of events, or an object {"events": [...]}; got a string',),
    ),
    "object without events": (b'{"event": []}', ('got an object without an "events" array',)),
    "events not an array": (b'{"events": {"id": "a"}}', ('without an "events" array',)),
    "invalid UTF-8": (b'[{"id": "\xff"}]', ("body is not valid UTF-8 (byte 9)",)),
    "a lone surrogate escape": (b'[{"id": "\\ud800"}]', ("not part of a surrogate pair",)),
    "a number out of range": (
        b'[{"id": "e1", "occurred_at": 1e400}]',
        ("body is not valid JSON: the number 1e400 is out of range",),
    ),
    "NaN": (b'[{"id": "e1", "occurred_at": NaN}]', ("NaN is not a JSON value",)),
    "deeply nested": (b"[" * 100_000, ("body is not valid JSON: arrays and objects are nested",)),
}


@pytest.mark.parametrize("case", list(MALFORMED_BODIES))
def test_a_malformed_json_body_is_400_and_creates_nothing(api: Api, case: str) -> None:
    content, needles = MALFORMED_BODIES[case]
    resp = api.post(content=content, **{"Content-Type": "application/json"})
    assert_plain_error(resp, 400, *needles)
    api.assert_app_absent()


def test_a_missing_content_type_means_json(api: Api) -> None:
    assert api.ok(content=json.dumps([join("j1", "m1", 0, "p1")]).encode()) == (1, 0, 0)


NDJSON = {"Content-Type": "application/x-ndjson"}


def ndjson(*lines: Any) -> bytes:
    return b"\n".join(x if isinstance(x, bytes) else json.dumps(x).encode() for x in lines)


def test_ndjson_is_accepted_with_blank_lines_and_crlf(api: Api) -> None:
    lines = [json.dumps(join("j1", "m1", 0, "p1")).encode(), b"", b"  ", b"\r"]
    body = b"\r\n".join([*lines, json.dumps(left("l1", "m1", 5, "p1")).encode(), b"", b""])
    assert api.ok(content=body, **NDJSON) == (2, 0, 0)
    for media in ("application/ndjson", "application/jsonl", "application/x-ndjson; charset=utf-8"):
        assert api.ok(content=ndjson(join("j1", "m1", 0, "p1")), **{"Content-Type": media}) == (
            0,
            1,
            0,
        )


def test_ndjson_bad_lines_are_indexed_among_non_blank_lines(api: Api) -> None:
    good = [join("j1", "m1", 0, "p1"), left("l1", "m1", 5, "p1"), join("j2", "m1", 1, "p2")]
    body = ndjson(b"", good[0], b"", b'{"id": "x",', b"   ", good[1], b"[1,", good[2])
    body_json = assert_error(api.post(content=body, **NDJSON), 400, "2 invalid events")
    errors = body_json["errors"]
    assert [(e["code"], e["index"]) for e in errors] == [(400, 1), (400, 3)], errors
    assert errors[0]["message"].startswith("events[1]: line 4: not valid JSON")
    assert errors[1]["message"].startswith("events[3]: line 7: not valid JSON")
    api.assert_app_absent()
    assert api.ok(content=ndjson(*good), **NDJSON) == (3, 0, 0)


def test_ndjson_invalid_events_are_indexed_among_non_blank_lines(api: Api) -> None:
    body = ndjson(b"", join("j1", "m1", 0, "p1"), b" ", b"", event("x", "peer.gone", "m1", 1))
    [entry] = assert_invalid_events(api.post(content=body, **NDJSON), 1)
    assert entry["index"] == 1 and entry["id"] == "x"
    assert entry["message"].startswith("events[1].type: 'peer.gone' is not a known type")
    api.assert_app_absent()


def test_ndjson_lists_syntax_errors_and_invalid_events_together(api: Api) -> None:
    """docs/events.md: `errors[]` lists *every* invalid event, so one round trip finds them all."""
    body = ndjson(join("j1", "m1", 0, "p1"), b"{oops", event("x", "peer.gone", "m1", 1))
    body_json = assert_error(api.post(content=body, **NDJSON), 400)
    assert sorted(e["index"] for e in body_json["errors"]) == [1, 2], body_json
    api.assert_app_absent()


def test_gzip_bodies_are_inflated(api: Api) -> None:
    batch = [join("j1", "m1", 0, "p1"), left("l1", "m1", 5, "p1")]
    assert api.ok(
        content=gzip.compress(json.dumps(batch).encode()),
        **{"Content-Type": "application/json", "Content-Encoding": "gzip"},
    ) == (2, 0, 0)
    more = ndjson(join("j2", "m2", 0, "p2"), b"", left("l2", "m2", 3, "p2"))
    assert api.ok(content=gzip.compress(more), **NDJSON, **{"Content-Encoding": "x-gzip"}) == (
        2,
        0,
        0,
    )
    assert len(api.sessions()) == 2


def test_a_corrupt_gzip_body_is_400_and_stores_nothing(api: Api) -> None:
    batch = [join("j1", "m1", 0, "p1")]
    packed = gzip.compress(json.dumps(batch).encode())
    gz = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    corrupt = packed[:12] + bytes(b ^ 0x55 for b in packed[12:])
    assert_plain_error(api.post(content=corrupt, **gz), 400, "body is not valid gzip",
                       "Content-Encoding")  # fmt: skip
    assert_plain_error(api.post(content=packed[:-10], **gz), 400, "not valid gzip", "truncated")
    assert_plain_error(api.post(content=json.dumps(batch).encode(), **gz), 400, "not valid gzip")
    api.assert_app_absent()
    assert api.ok(batch) == (1, 0, 0)


@pytest.mark.parametrize(
    ("headers", "needles"),
    [
        (
            {"Content-Type": "text/plain"},
            ("unsupported Content-Type 'text/plain'", "application/json", "application/x-ndjson"),
        ),
        ({"Content-Type": "application/xml"}, ("unsupported Content-Type 'application/xml'",)),
        ({"Content-Type": "multipart/form-data; boundary=x"}, ("'multipart/form-data'",)),
        (
            {"Content-Type": "application/json", "Content-Encoding": "br"},
            ("unsupported Content-Encoding 'br'", "gzip"),
        ),
        (
            {"Content-Type": "application/json", "Content-Encoding": "deflate"},
            ("unsupported Content-Encoding 'deflate'",),
        ),
        (
            {"Content-Type": "application/json", "Content-Encoding": "gzip, br"},
            ("unsupported Content-Encoding 'gzip, br'",),
        ),
    ],
    ids=["text", "xml", "multipart", "br", "deflate", "gzip+br"],
)
def test_unsupported_media_is_415(api: Api, headers: dict[str, str], needles: tuple[str]) -> None:
    resp = api.post(content=json.dumps([join("j1", "m1", 0, "p1")]).encode(), **headers)
    assert_plain_error(resp, 415, *needles)
    api.assert_app_absent()


def test_more_than_5000_events_is_413(api: Api) -> None:
    batch = [event(f"e{i}", "meeting.updated", "m1", 0) for i in range(5001)]
    needles = ("batch has 5001 events; the limit is 5000 events per request", "split it")
    assert_plain_error(api.post(batch), 413, *needles)
    assert_plain_error(api.post({"events": batch}), 413, *needles)
    assert_plain_error(api.post(content=ndjson(*batch), **NDJSON), 413, *needles)
    api.assert_app_absent()
    assert api.ok(batch[:5000]) == (5000, 0, 0)


def test_more_than_10_mib_is_413(api: Api) -> None:
    filler = "x" * (10 * MIB)
    body = json.dumps([event("big", "meeting.updated", "m1", 0, note=filler)]).encode()
    assert_plain_error(api.post(content=body), 413, "10 MiB", "split")
    chunked = api.post(content=iter([body[i : i + MIB] for i in range(0, len(body), MIB)]))
    assert_plain_error(chunked, 413, "10 MiB", "split")
    gz = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    resp = api.post(content=gzip.compress(body), **gz)
    assert_plain_error(resp, 413, "decompressed body exceeds the limit", "(10 MiB)", "split")
    api.assert_app_absent()


@pytest.mark.parametrize("members", [1, 200], ids=["one stream", "many members"])
def test_a_gzip_bomb_is_413_quickly(api: Api, members: int) -> None:
    # 200 MiB of zeros in about 200 KB: one stream, or concatenated members as gzip allows.
    bomb = gzipped_zeros(200 // members) * members
    started = time.monotonic()
    resp = api.post(
        content=bomb, **{"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    elapsed = time.monotonic() - started
    assert_plain_error(resp, 413, "decompressed body exceeds the limit")
    assert elapsed < 3, f"refusing the bomb took {elapsed:.1f} s"
    assert api.http.get(f"{api.base}/healthz").status_code == 200
    api.assert_app_absent()


# --- idempotency ------------------------------------------------------------------------------


def test_reposting_a_batch_counts_duplicates_and_changes_nothing(api: Api) -> None:
    batch = [
        event("t1", "meeting.updated", "m1", -1, title="First title"),
        join("j1", "m1", 0, "p1"),
        join("j2", "m1", 2, "p2"),
        left("l1", "m1", 10, "p1"),
        left("l2", "m1", 12, "p2"),
    ]
    assert api.ok(batch) == (5, 0, 0)
    before = api.sessions()
    assert api.ok(batch) == (0, 5, 0)
    assert api.ok(batch[::-1][:3]) == (0, 3, 0)
    # First write wins: the same id with new content is a duplicate and changes nothing.
    rewritten = [{**batch[0], "title": "Second title"}, {**batch[3], "occurred_at": at(1)}]
    assert api.ok(rewritten) == (0, 2, 0)
    after = api.sessions()
    assert [{k: v for k, v in s.items() if k != "updated_at"} for s in after] == [
        {k: v for k, v in s.items() if k != "updated_at"} for s in before
    ]
    [session] = after
    assert (session["meeting_display_name"], session["minutes_consumed"]) == ("First title", 20)


def test_a_repeated_id_within_one_batch_is_a_duplicate(api: Api) -> None:
    first = join("j1", "m1", 0, "p1", display_name="First")
    second = join("j2", "m1", 1, "p2", display_name="Other")
    batch = [first, {**first, "display_name": "Second"}, first, second]
    assert api.ok(batch) == (2, 2, 0)
    [session] = api.sessions()
    resp = api.read(f"/{session['id']}/participants")
    assert resp.status_code == 200, resp.text
    names = {p["id"]: p["display_name"] for p in resp.json()["data"]["participants"]}
    assert names == {"p1": "First", "p2": "Other"}


def _race(api: Api, batches: list[Any]) -> list[Any]:
    with ThreadPoolExecutor(len(batches)) as pool:
        return list(pool.map(api.ok, batches))


def test_ids_are_unique_per_app_not_across_apps(api: Api) -> None:
    other = Api(api.base, api.http, api.tokens, f"{api.app}-other")
    batch = [join("j1", "m1", 0, "p1"), left("l1", "m1", 5, "p1")]
    assert api.ok(batch) == (2, 0, 0)
    assert other.ok(batch) == (2, 0, 0)
    assert len(api.sessions()) == len(other.sessions()) == 1


def test_racing_retries_of_one_batch_store_it_once(api: Api) -> None:
    """A producer retrying after a timeout while the first attempt is still in flight."""
    assert api.ok([]) == (0, 0, 0)  # the app exists; its creation is raced below
    batch = [join(f"j{i}", "m1", i, f"p{i}") for i in range(20)]
    batch += [left(f"l{i}", "m1", 30 + i, f"p{i}") for i in range(20)]
    results = _race(api, [batch] * 4)
    assert sum(r[0] for r in results) == 40 and sum(r[1] for r in results) == 120, results
    [session] = api.sessions()
    assert session["minutes_consumed"] == 20 * 30


def test_racing_first_posts_to_a_new_app_all_succeed(api: Api) -> None:
    """Several producers (or retries) hitting an app that does not exist yet."""
    results = _race(api, [[join(f"j{i}", f"m{i}", 0, f"p{i}")] for i in range(4)])
    assert results == [(1, 0, 0)] * 4
    assert len(api.sessions()) == 4


# --- pending ----------------------------------------------------------------------------------


def test_pending_events_are_listed_with_reasons_and_placed_when_the_join_arrives(
    api: Api,
) -> None:
    waiting = [
        left("l-p1", "m1", 10, "p1"),  # no join yet
        chat("chat-ghost", "m1", 5, "ghost"),  # unknown sender, no session of m1 yet
        event("ev-p1", "peer.event", "m1", 2, peer_id="p1", name="audio_off"),
        event("title", "meeting.updated", "m1", -1, title="Retro"),  # never pending
        event("end", "meeting.ended", "m1", 30),  # nothing open: not pending
    ]
    assert api.ok(waiting) == (5, 0, 3)
    listing = api.pending()
    assert listing["total_count"] == 3
    rows = {row["id"]: row for row in listing["events"]}
    assert set(rows) == {"l-p1", "chat-ghost", "ev-p1"}
    for row in rows.values():
        assert set(row) == {"id", "type", "meeting_id", "peer_id", "occurred_at",
                            "received_at", "reason", "orphaned"}  # fmt: skip
        assert row["meeting_id"] == "m1" and row["orphaned"] is False
    assert (rows["l-p1"]["type"], rows["l-p1"]["peer_id"], rows["l-p1"]["occurred_at"]) == (
        "peer.left",
        "p1",
        at(10),
    )
    assert rows["l-p1"]["reason"] == "waiting for the peer.joined of peer p1"
    assert rows["ev-p1"]["reason"] == "waiting for the peer.joined of peer p1"
    reason = rows["chat-ghost"]["reason"]
    assert "ghost" in reason and "meeting m1 has no session within 60 s of " + at(5) in reason
    paged = api.http.get(
        f"{api.ingest_url}/pending", params={"limit": 1, "offset": 1},
        headers={"Authorization": f"Bearer {api.tokens.ingest}"},
    )  # fmt: skip
    assert paged.status_code == 200, paged.text
    assert paged.json()["data"]["total_count"] == 3
    assert paged.json()["data"]["events"] == [listing["events"][1]]
    assert api.sessions() == []

    # The join explains the leave and the peer event; its session's span takes in the chat.
    assert api.ok([join("j-p1", "m1", 0, "p1")]) == (1, 0, 0)
    assert api.pending() == {"events": [], "total_count": 0}
    [session] = api.sessions()
    assert (session["started_at"], session["ended_at"], session["status"]) == (
        at(0),
        at(10),
        "ENDED",
    )
    assert session["meeting_display_name"] == "Retro"

    # A chat far from any session waits for its sender's join, then follows the sender.
    assert api.ok([chat("chat-late", "m1", 200, "p9")]) == (1, 0, 1)
    [row] = api.pending()["events"]
    assert row["id"] == "chat-late" and "p9" in row["reason"]
    assert api.ok([join("j-p9", "m1", 199, "p9"), left("l-p9", "m1", 201, "p9")]) == (2, 0, 0)
    assert api.pending()["total_count"] == 0
    assert sorted(s["started_at"] for s in api.sessions()) == [at(0), at(199)]


@pytest.mark.parametrize(
    ("params", "needles"),
    [
        ({"limit": "0"}, ("limit", "100")),
        ({"limit": "many"}, ("limit", "100")),
        ({"offset": "-1"}, ("offset", "0")),
    ],
    ids=["limit 0", "limit not a number", "negative offset"],
)
def test_bad_pending_paging_is_400_naming_the_parameter(
    shared: Api, params: dict[str, str], needles: tuple[str, ...]
) -> None:
    resp = shared.http.get(
        f"{shared.ingest_url}/pending", params=params,
        headers={"Authorization": f"Bearer {shared.tokens.ingest}"},
    )  # fmt: skip
    message = assert_error(resp, 400)["error"]["message"]
    said = message.replace(resp.request.url.raw_path.decode(), "")  # not just the URL echoed
    for needle in needles:
        assert needle in said, (needle, message)


def test_a_wrong_method_or_path_gets_the_error_envelope(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.tokens.ingest}"}
    assert_plain_error(api.http.get(f"{api.ingest_url}/events", headers=headers), 405)
    resp = api.http.post(f"{api.ingest_url}/event", json=[], headers=headers)
    assert_plain_error(resp, 404)
