"""Validate raw ingest events against the ingestion contract (pure: no I/O, no framework).

Conventions of the error list (each entry becomes one item of the response's `errors[]`):

* One entry per problem: an event with three bad fields yields three entries, all with the
  same `index` (and `id`). At most `MAX_PROBLEMS_PER_EVENT` entries per event; the last one
  then says how many more were not listed.
* Entry shape: `{"code": 400, "message": "events[3].occurred_at: not an RFC 3339 timestamp ...",
  "index": 3, "id": "evt-17"}`; `id` only when the event has a string `id` (valid or not).
* `message` is `events[<index>]<path>: <what to fix>`, where `<path>` is the JSON path of the
  offending value (`.samples[2].kind`, `.metadata["a b"]`), empty for the event itself.
* Missing required fields say `required for <type>` (`required for every event` for the common
  fields). A field sent as JSON `null` is treated as a wrong type, not as absent (omit the field
  instead); only the loosely checked telemetry objects of `peer.metadata` tolerate nulls.
* Unknown extra fields are ignored; when `type` is unknown only the common fields are checked.
* Bounded, whatever was sent: an echoed `id` and path keep their first `MAX_ECHO_CHARS`
  characters (then `…`), and a rejected batch lists its first `MAX_LISTED_ERRORS` entries; its
  message gives the totals (docs/ingestion.md, "When a batch is refused").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rtk_sessions.ingest.body import BadLine, decode_body
from rtk_sessions.ingest.fields import (
    Check,
    Problem,
    Problems,
    anything,
    array,
    boolean,
    enum,
    id_like,
    integer,
    ip_address,
    number,
    obj,
    pattern,
    scalar,
    show,
    string,
    timestamp,
    timestamp_ms,
    wrong_type,
)
from rtk_sessions.ingest.schemas import EVENT_TYPES, PEER_BOUND_TYPES, ValidEvent
from rtk_sessions.kit.errors import BadRequest
from rtk_sessions.kit.timeutil import to_iso

MAX_PROBLEMS_PER_EVENT = 20
MAX_LISTED_ERRORS = 100
MAX_ECHO_CHARS = 200
MAX_SAMPLES = 1000

Rule = tuple[str, Check, bool]  # field name, checker, required


def _req(name: str, check: Check) -> Rule:
    return (name, check, True)


def _opt(name: str, check: Check) -> Rule:
    return (name, check, False)


def _event_type(value: Any, now_ms: int) -> Problems:
    if isinstance(value, str) and value in _RULES:
        return None
    listing = ", ".join(EVENT_TYPES)
    if not isinstance(value, str):
        return wrong_type(f"a string, one of {listing}", value)
    return [("", f"{show(value)} is not a known type; use one of {listing}")]


_ID = id_like()
_PEER = _req("peer_id", id_like(peer=True))
_REASON = _opt("reason", string(max_chars=128))
_COMMON: tuple[Rule, ...] = (_req("id", _ID), _req("type", _event_type), _req("meeting_id", _ID))

_DEVICE = obj({"device_id": string(), "kind": string(), "label": string()}, nullable=True)
_SAMPLE_NUMBERS = (
    "packets_sent", "packets_received", "packets_lost", "bytes_sent", "bytes_received",
    "jitter", "round_trip_time", "jitter_buffer_delay", "jitter_buffer_emitted_count",
    "concealment_events", "frames_encoded", "frames_decoded", "frames_dropped",
    "key_frames_encoded", "key_frames_decoded", "fir_count", "pli_count", "nack_count",
    "frames_per_second", "frame_width", "frame_height", "quality_limitation_resolution_changes",
)  # fmt: skip
_SAMPLE = obj(
    {
        "timestamp": timestamp,
        "kind": enum("audio", "video"),
        "direction": enum("outbound", "inbound"),
        "source": enum("camera", "microphone", "screenshare"),
        "ssrc": integer(0, 2**32 - 1),
        **{name: string() for name in ("pc_id", "mid", "producer_id", "consumer_id")},
        "remote_peer_id": string(),
        **{name: number for name in _SAMPLE_NUMBERS},
        "quality_limitation_reason": enum("cpu", "bandwidth", "none", "other"),
        "quality_limitation_durations": obj(values=number),
    },
    required=("timestamp", "kind", "direction", "ssrc"),
)
_PEER_METADATA: tuple[Rule, ...] = (
    _PEER,
    _opt("device_info", obj(
        {"cpus": number, "is_mobile": boolean, "os": string(), "os_version": string()},
        nullable=True,
    )),
    _opt("user_agent", string()),
    _opt("browser_metadata", obj()),
    *(_opt(name, string()) for name in ("sdk_name", "sdk_type", "sdk_version", "room_view_type")),
    _opt("native_metadata", obj(
        {"audio_encoder": string(), "video_encoder": string()}, nullable=True
    )),
    _opt("ip", ip_address),
    _opt("ip_information", obj()),
    _opt("pc_metadata", obj(
        {
            "effective_network_type": string(),
            **{f"{k}_connectivity": boolean for k in ("reflexive", "relay", "turn")},
            "sdp": array(anything),
        },
        nullable=True,
    )),
    _opt("devices_update", obj(
        {"kind": enum("audio", "video", "speaker"), "added": array(_DEVICE),
         "removed": array(_DEVICE)},
        required=("kind",), nullable=True,
    )),
    _opt("selected_device", _DEVICE),
    _opt("candidate_pair", obj(
        {"transport": enum("producing", "consuming")}, required=("transport",)
    )),
)  # fmt: skip

_RULES: dict[str, tuple[Rule, ...]] = {
    "meeting.updated": (
        _opt("title", string(max_chars=256)),
        _opt("session_type", enum("meeting", "livestream", "participant")),
        _opt("meta", obj(max_kib=16)),
    ),
    "peer.joined": (
        _PEER,
        _opt("user_id", string(min_chars=1, max_chars=256)),
        _opt("custom_participant_id", string(max_chars=256)),
        _opt("display_name", string(max_chars=256)),
        _opt("preset_name", string(max_chars=128)),
        _opt("preset_view_type", enum("GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM", "CHAT")),
        _opt("meeting_title", string(max_chars=256)),
        _opt("parent_meeting_id", _ID),
        _opt("socket_session_id", string(max_chars=256)),
        _opt("session_id", pattern(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "a UUID in lower-case hex such as '05e57591-1c2d-4e5f-8a9b-0c1d2e3f4a5b'",
        )),
    ),
    "peer.left": (_PEER, _REASON),
    "meeting.ended": (_REASON,),
    "chat.message": (
        _req("message_id", string(min_chars=1, max_chars=128)),
        _PEER,
        _opt("payload_type", enum("TEXT_MESSAGE", "IMAGE_MESSAGE", "FILE_MESSAGE")),
        _req("payload", string(max_kib=64)),
        _opt("pinned", boolean),
        _opt("is_edited", boolean),
    ),
    "transcript.segment": (
        _PEER,
        _req("text", string(max_kib=16)),
        _opt("started_at", timestamp),
        _opt("ended_at", timestamp),
        _opt("language", pattern(
            r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*", "a BCP 47 language tag such as 'en' or 'en-US'"
        )),
        _opt("is_partial", boolean),
    ),
    "peer.metadata": _PEER_METADATA,
    "peer.event": (
        _PEER,
        _req("name", string(min_chars=1, max_chars=128)),
        _opt("metadata", obj(values=scalar)),
    ),
    "peer.stats": (_PEER, _req("samples", array(_SAMPLE, min_items=1, max_items=MAX_SAMPLES))),
}  # fmt: skip

_MISSING: Any = object()


def validate_events(
    raw_events: list[Any], now_ms: int
) -> tuple[list[ValidEvent], list[dict[str, Any]]]:
    """The valid events (input order) and one error entry per problem (see module docstring).

    The caller rejects the whole batch when the error list is non-empty.
    """
    valid: list[ValidEvent] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_events):
        event, problems = _check_event(raw, now_ms)
        if problems:
            errors.extend(_render(index, raw, problems))
        elif event is not None:
            valid.append(event)
    return valid, errors


def read_batch(
    body: bytes, content_type: str | None, content_encoding: str | None, now_ms: int
) -> list[ValidEvent]:
    """A request body's events, inflated, decoded and validated: the CPU-heavy part of an
    ingest request, run in a worker process (kit/cpu.py)."""
    return check_batch(decode_body(body, content_type, content_encoding), now_ms)


class BatchRefused(BadRequest):
    """A batch with invalid events (400); `events` is how many the batch held, all refused.
    (Built again from its message when it crosses from a worker process: keep the defaults.)"""

    def __init__(
        self, message: str, *, details: list[dict[str, Any]] | None = None, events: int = 0
    ) -> None:
        super().__init__(message, details=details)
        self.events = events


def check_batch(raw_events: list[Any], now_ms: int) -> list[ValidEvent]:
    """Validate a whole batch; any invalid event rejects it (400), listing the first problems."""
    valid, errors = validate_events(raw_events, now_ms)
    if not errors:
        return valid
    count = len({e["index"] for e in errors})
    message = f"{count} invalid {'event' if count == 1 else 'events'}; nothing was stored"
    if len(errors) > MAX_LISTED_ERRORS:
        message += f" (the first {MAX_LISTED_ERRORS} of {len(errors)} problems are listed)"
    raise BatchRefused(message, details=errors[:MAX_LISTED_ERRORS], events=len(raw_events))


def _check_event(raw: Any, now_ms: int) -> tuple[ValidEvent | None, list[Problem]]:
    if isinstance(raw, BadLine):
        return None, [("", raw.reason)]
    if not isinstance(raw, dict):
        return None, wrong_type("a JSON object", raw)
    problems: list[Problem] = []
    _apply(raw, _COMMON, "every event", now_ms, problems)
    value = raw.get("occurred_at", _MISSING)
    occurred = "required for every event" if value is _MISSING else timestamp_ms(value, now_ms)
    if isinstance(occurred, str):
        problems.append((".occurred_at", occurred))
    etype = raw.get("type")
    if not isinstance(etype, str) or etype not in _RULES:
        return None, problems  # `type` itself is reported by _COMMON
    _apply(raw, _RULES[etype], etype, now_ms, problems)
    if problems or isinstance(occurred, str):
        return None, problems
    place_at, cross = _CROSS_CHECKS.get(etype, _no_cross_check)(raw, occurred, now_ms)
    if cross:
        return None, cross
    peer_id = raw["peer_id"] if etype in PEER_BOUND_TYPES else None
    event = ValidEvent(
        id=raw["id"], type=etype, meeting_id=raw["meeting_id"], occurred_at=occurred,
        place_at=place_at, peer_id=peer_id, raw=raw,
    )  # fmt: skip
    return event, []


def _apply(
    raw: dict[str, Any], rules: tuple[Rule, ...], for_what: str, now_ms: int,
    problems: list[Problem],
) -> None:  # fmt: skip
    for name, check, required in rules:
        value = raw.get(name, _MISSING)
        if value is _MISSING:
            if required:
                problems.append((f".{name}", f"required for {for_what}"))
            continue
        found = check(value, now_ms)
        if found:
            problems.extend((f".{name}{path}", what) for path, what in found)


CrossCheck = Callable[[dict[str, Any], int, int], tuple[int, Problems]]


def _no_cross_check(raw: dict[str, Any], occurred: int, now_ms: int) -> tuple[int, Problems]:
    return occurred, None


def _segment(raw: dict[str, Any], occurred: int, now_ms: int) -> tuple[int, Problems]:
    """Placed at `started_at` (default `occurred_at`); `ended_at` must not precede it."""
    started = _known_ms(raw.get("started_at", _MISSING), occurred, now_ms)
    ended = _known_ms(raw.get("ended_at", _MISSING), started, now_ms)
    if ended < started:
        where = "started_at" if "started_at" in raw else "occurred_at (started_at is absent)"
        what = f"{to_iso(ended)} is before {where} {to_iso(started)}; ended_at must be ≥ it"
        return started, [(".ended_at", what)]
    return started, None


def _joined(raw: dict[str, Any], occurred: int, now_ms: int) -> tuple[int, Problems]:
    if raw.get("parent_meeting_id") == raw["meeting_id"]:
        return occurred, [(".parent_meeting_id", "must differ from meeting_id")]
    return occurred, None


def _known_ms(value: Any, default: int, now_ms: int) -> int:
    """Epoch ms of an already validated timestamp (or `default` when absent)."""
    if value is _MISSING:
        return default
    ms = timestamp_ms(value, now_ms)
    assert isinstance(ms, int)
    return ms


_CROSS_CHECKS: dict[str, CrossCheck] = {"transcript.segment": _segment, "peer.joined": _joined}


def _render(index: int, raw: Any, problems: list[Problem]) -> list[dict[str, Any]]:
    if len(problems) > MAX_PROBLEMS_PER_EVENT:
        hidden = len(problems) - MAX_PROBLEMS_PER_EVENT + 1
        shown = problems[: MAX_PROBLEMS_PER_EVENT - 1]
        problems = [*shown, ("", f"{hidden} more problems not listed")]
    event_id = raw.get("id") if isinstance(raw, dict) else None
    extra = {"id": _echo(event_id)} if isinstance(event_id, str) else {}
    return [
        {"code": 400, "message": f"events[{index}]{_echo(path)}: {what}", "index": index, **extra}
        for path, what in problems
    ]


def _echo(text: str) -> str:
    """A received string (an id, a key in a path) as shown back: at most MAX_ECHO_CHARS."""
    return text if len(text) <= MAX_ECHO_CHARS else text[: MAX_ECHO_CHARS - 1] + "…"
