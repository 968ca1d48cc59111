"""Event types and the validated event that the rest of ingestion works with."""

from __future__ import annotations

from typing import Any

import msgspec

EVENT_TYPES = (
    "meeting.updated",
    "peer.joined",
    "peer.left",
    "meeting.ended",
    "chat.message",
    "transcript.segment",
    "peer.metadata",
    "peer.event",
    "peer.stats",
)
LIFECYCLE_TYPES = ("peer.joined", "peer.left", "meeting.ended", "meeting.updated")
PEER_BOUND_TYPES = (
    "peer.joined",
    "peer.left",
    "chat.message",
    "transcript.segment",
    "peer.metadata",
    "peer.event",
    "peer.stats",
)
TIME_PLACED_TYPES = ("chat.message", "transcript.segment")
NEVER_PENDING_TYPES = ("meeting.updated", "meeting.ended")
MAX_BATCH_EVENTS = 5000
MAX_BATCH_BYTES = 10 * 1024 * 1024


class ValidEvent(msgspec.Struct, frozen=True):
    """An event that passed validation.

    `occurred_at` is epoch ms (truncated); `place_at` is the instant used to place it by
    time (`started_at` for transcript segments, else `occurred_at`); `raw` is the event
    object exactly as received (unknown fields included), stored as the event's body.
    """

    id: str
    type: str
    meeting_id: str
    occurred_at: int
    place_at: int
    peer_id: str | None
    raw: dict[str, Any]


VALID_EVENTS = msgspec.msgpack.Decoder(list[ValidEvent])  # validated in a worker process


class Placement:
    """How an event got its session (the `events.placement` column)."""

    PENDING = 0
    BY_PEER = 1
    BY_TIME = 2
    MEETING_LEVEL = 3  # meeting.updated / meeting.ended: never pending


# The answer to an ingested batch, the same from every endpoint that ingests events (the
# ingest API and the LiveKit webhook), so it lives with the event types rather than a route.
class IngestCounts(msgspec.Struct):
    accepted: int
    duplicates: int
    pending: int


class IngestResponse(msgspec.Struct):
    data: IngestCounts
    success: bool = True
