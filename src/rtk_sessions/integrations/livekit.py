"""LiveKit webhooks: verify a signed webhook, then turn it into our events (docs/integrations.md).

Everything here is pure and runs in a worker process (kit/cpu.py): JWT and hash checks, the
protobuf JSON parse and the mapping cost CPU in proportion to the body.

Event ids come from what LiveKit sends, so a retried webhook (same body) gives the same ids and
ingestion counts it as duplicates: `lk:{event id}:{part}` for what one webhook says, and
`lk:{participant or egress id}:joined` for a join, which several webhooks of one participant
repeat (participant_joined, participant_left, participant_connection_aborted all carry the
whole participant), so whichever arrives first stores it and the others are duplicates.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from google.protobuf.json_format import ParseError
from google.protobuf.message import Message
from livekit.api.access_token import TokenVerifier
from livekit.api.webhook import WebhookReceiver
from livekit.protocol.egress import EgressInfo, EgressStatus
from livekit.protocol.models import ParticipantInfo, Room, TrackInfo, TrackSource, TrackType
from livekit.protocol.webhook import WebhookEvent

from rtk_sessions.ingest.schemas import ValidEvent
from rtk_sessions.ingest.validation import check_batch
from rtk_sessions.kit.errors import BadRequest

PREFIX = "lk"
MAX_BODY_BYTES = 1024 * 1024
CONTENT_TYPE = "application/webhook+json"
_MIN_MS = 946_684_800_000  # 2000-01-01, the earliest time an event may carry
_AHEAD_MS = 5 * 60_000  # and at most this far ahead of the server's clock
_META_MAX_BYTES = 16 * 1024
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
_ENDED_EGRESS = frozenset(
    (
        EgressStatus.EGRESS_COMPLETE,
        EgressStatus.EGRESS_FAILED,
        EgressStatus.EGRESS_ABORTED,
        EgressStatus.EGRESS_LIMIT_REACHED,
    )
)


class NotVerified(Exception):
    """The webhook's signature, issuer, expiry or body hash did not check out (a 401).
    The message is the library's reason, for the log only."""


# --- verification -----------------------------------------------------------------------


def read_webhook(
    body: bytes, authorization: str, api_key: str, api_secret: str, now: int
) -> list[ValidEvent]:
    """The validated events of a LiveKit webhook, after checking it exactly as LiveKit
    specifies: an HS256 JWT signed with the API secret, issued by the API key, unexpired,
    whose `sha256` claim is the base64 SHA-256 of the raw body."""
    return check_batch(events_of(verified(body, authorization, api_key, api_secret), now), now)


def verified(body: bytes, authorization: str, api_key: str, api_secret: str) -> WebhookEvent:
    """The parsed webhook, or NotVerified; nothing is parsed before the signature checks out."""
    token = authorization.strip()
    if token[:7].lower() == "bearer ":  # LiveKit sends a bare token; accept a prefixed one too
        token = token[7:].strip()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise NotVerified("the body is not UTF-8") from None
    verifier = TokenVerifier(api_key, api_secret)
    try:
        verifier.verify(token)  # signature, issuer and expiry, before anything else
    except Exception as exc:  # PyJWT's many error classes
        raise NotVerified(f"{type(exc).__name__}: {exc}") from None
    try:
        return WebhookReceiver(verifier).receive(text, token)
    except (ParseError, RecursionError):
        raise BadRequest(
            "the webhook is signed but its body is not a LiveKit WebhookEvent in protobuf JSON"
        ) from None
    except Exception as exc:  # no sha256 claim, a claim that is not base64, a hash mismatch
        raise NotVerified(f"{type(exc).__name__}: {exc}") from None


# --- ids and values -----------------------------------------------------------------------


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _safe(value: str) -> str:
    """An id part as it is when it follows the id rules (and leaves room for the rest)."""
    ok = 0 < len(value) <= 80 and all(c in _ID_CHARS for c in value) and value.strip(".")
    return value if ok else _digest(value)


def _eid(*parts: str) -> str:
    return ":".join((PREFIX, *(_safe(p) for p in parts)))


def meeting_id(room_name: str) -> str:
    """The room name when it is a valid id (LiveKit names rooms freely), else a digest of it;
    the title keeps the name readable."""
    ok = 0 < len(room_name) <= 128 and all(c in _ID_CHARS for c in room_name)
    return room_name if ok else f"lk-room-{_digest(room_name)}"


def _text(value: str, limit: int) -> str:
    """A LiveKit string as our events take it: no NUL, at most `limit` characters."""
    return value.replace("\x00", "")[:limit]


def _ms(now: int, *candidates: int) -> int:
    """The first plausible epoch-ms time (after 2000, at most 5 minutes ahead), else now."""
    for value in candidates:
        if _MIN_MS <= value <= now + _AHEAD_MS:
            return value
    return now


def _enum_name(message: Message, field: str) -> str:
    """An enum field's name, as LiveKit's JSON spells it (defaults included)."""
    descriptor = message.DESCRIPTOR.fields_by_name[field].enum_type
    number = getattr(message, field)
    found = descriptor.values_by_number.get(number) if descriptor else None
    return found.name if found else str(number)


def _meta(metadata: str) -> dict[str, Any] | None:
    """Room metadata as a session's `meta`: the object when it is a JSON object, else the text
    under `metadata`; None when empty or too large to keep."""
    if not metadata:
        return None
    try:
        parsed = json.loads(metadata)
    except (ValueError, RecursionError):
        parsed = None
    meta = parsed if isinstance(parsed, dict) else {"metadata": metadata}
    encoded = json.dumps(meta, ensure_ascii=False)
    if "\x00" in encoded or len(encoded.encode()) > _META_MAX_BYTES:
        return None
    return meta


# --- mapping ------------------------------------------------------------------------------


def events_of(webhook: WebhookEvent, now: int) -> list[dict[str, Any]]:
    """Our events for one LiveKit webhook (docs/integrations.md has the table); [] for the
    ones we do not use."""
    at = _ms(now, webhook.created_at * 1000)
    kind = webhook.event
    if kind in ("room_started", "room_finished") and webhook.room.name:
        return _room(webhook, at)
    participant, room = webhook.participant, webhook.room.name
    if kind in ("participant_joined", "participant_left", "participant_connection_aborted"):
        # An egress's own participant is left out: the egress's events stand for it (_egress).
        if room and participant.sid and participant.kind != ParticipantInfo.Kind.EGRESS:
            return _participant(webhook, at, now)
    elif kind in ("track_published", "track_unpublished"):
        if room and participant.sid:
            return _track(webhook, at)
    elif kind in ("egress_started", "egress_updated", "egress_ended"):
        egress = webhook.egress_info
        return _egress(webhook, at, now) if egress.room_name and egress.egress_id else []
    return []


def _base(event_id: str, event_type: str, room: str, at: int) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "meeting_id": meeting_id(room), "occurred_at": at}


def _room(webhook: WebhookEvent, at: int) -> list[dict[str, Any]]:
    room: Room = webhook.room
    update = _base(_eid(webhook.id, "meeting"), "meeting.updated", room.name, at)
    update["title"] = _text(room.name, 256)
    meta = _meta(room.metadata)
    if meta is not None:
        update["meta"] = meta
    if webhook.event == "room_started":
        return [update]
    ended = _base(_eid(webhook.id, "ended"), "meeting.ended", room.name, at)
    reason = _enum_name(webhook, "room_end_reason")
    ended["reason"] = _text(reason, 128)
    return [update, ended]


def _joined(webhook: WebhookEvent, now: int) -> dict[str, Any]:
    p: ParticipantInfo = webhook.participant
    at = _ms(now, p.joined_at_ms, p.joined_at * 1000, webhook.created_at * 1000)
    joined = _base(_eid(p.sid, "joined"), "peer.joined", webhook.room.name, at)
    joined["peer_id"] = _safe(p.sid)
    if p.identity:
        joined["user_id"] = _text(p.identity, 256) or _digest(p.identity)
        joined["custom_participant_id"] = _text(p.identity, 256)
    if p.name:
        joined["display_name"] = _text(p.name, 256)
    joined["meeting_title"] = _text(webhook.room.name, 256)
    return joined


def _participant_info(webhook: WebhookEvent, at: int) -> dict[str, Any]:
    """What LiveKit knows of the participant that our join has no field for: its kind (a
    person, an agent, a SIP caller, an ingress...), region, metadata and attributes."""
    p: ParticipantInfo = webhook.participant
    info: dict[str, Any] = {"kind": _enum_name(p, "kind")}
    if p.region:
        info["region"] = p.region
    if p.metadata:
        info["metadata"] = p.metadata
    for key in sorted(p.attributes):
        info[f"attributes.{key}"] = p.attributes[key]
    event = _base(_eid(p.sid, "info"), "peer.event", webhook.room.name, at)
    event.update(peer_id=_safe(p.sid), name="participant_info", metadata=_no_nul(info))
    return event


def _no_nul(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k.replace("\x00", ""): v.replace("\x00", "") if isinstance(v, str) else v
        for k, v in values.items()
    }


def _participant(webhook: WebhookEvent, at: int, now: int) -> list[dict[str, Any]]:
    """Every participant webhook carries the whole participant, so each gives its join (the
    same id each time); a leave or an aborted connection adds the leave and its reason."""
    joined = _joined(webhook, now)
    events = [joined, _participant_info(webhook, joined["occurred_at"])]
    if webhook.event == "participant_joined":
        return events
    p = webhook.participant
    reason = _enum_name(p, "disconnect_reason")
    left = _base(_eid(webhook.id, "left"), "peer.left", webhook.room.name, at)
    left.update(peer_id=_safe(p.sid), reason=reason[:128])
    named = _base(_eid(webhook.id, "reason"), "peer.event", webhook.room.name, at)
    named.update(peer_id=_safe(p.sid), name=webhook.event, metadata={"reason": reason})
    return [*events, left, named]


_TRACK_NAMES = {
    "screenshare": ("screenshare_started", "screenshare_stopped"),
    "audio": ("audio_on", "audio_off"),
    "video": ("video_on", "video_off"),
}


def _track(webhook: WebhookEvent, at: int) -> list[dict[str, Any]]:
    track: TrackInfo = webhook.track
    if track.source in (TrackSource.SCREEN_SHARE, TrackSource.SCREEN_SHARE_AUDIO):
        media = "screenshare"
    elif track.type == TrackType.AUDIO:
        media = "audio"
    elif track.type == TrackType.VIDEO:
        media = "video"
    else:
        return []  # data tracks carry no media
    on, off = _TRACK_NAMES[media]
    metadata = {
        "track_id": track.sid,
        "type": _enum_name(track, "type"),
        "source": _enum_name(track, "source"),
    }
    if track.mime_type:
        metadata["mime_type"] = track.mime_type
    event = _base(_eid(webhook.id, "track"), "peer.event", webhook.room.name, at)
    event.update(
        peer_id=_safe(webhook.participant.sid),
        name=on if webhook.event == "track_published" else off,
        metadata=_no_nul(metadata),
    )
    return [event]


def _egress(webhook: WebhookEvent, at: int, now: int) -> list[dict[str, Any]]:
    """An egress (a recording or a stream out of the room) has no participant of its own in
    the webhook: it becomes one peer, id = its egress id, present from its start to its end,
    whose peer events say how it went. LiveKit's times here are nanoseconds."""
    info: EgressInfo = webhook.egress_info
    room, peer = info.room_name, _safe(info.egress_id)
    started = _ms(now, info.started_at // 1_000_000, at)
    request = info.WhichOneof("request") or ""
    joined = _base(_eid(info.egress_id, "joined"), "peer.joined", room, started)
    joined.update(
        peer_id=peer,
        user_id=_text(info.egress_id, 256),
        custom_participant_id=_text(info.egress_id, 256),
        display_name=_text(f"LiveKit egress ({request or 'egress'})", 256),
        preset_name="livekit_egress",
    )
    metadata: dict[str, Any] = {"status": _enum_name(info, "status")}
    if request:
        metadata["request"] = request
    if info.error:
        metadata["error"] = info.error[:1000]
    when = _ms(now, info.updated_at // 1_000_000, at)
    event = _base(_eid(webhook.id, "egress"), "peer.event", room, when)
    event.update(peer_id=peer, name=webhook.event, metadata=_no_nul(metadata))
    events = [joined, event]
    if webhook.event == "egress_ended" or info.status in _ENDED_EGRESS:
        ended = _ms(now, info.ended_at // 1_000_000, when)
        left = _base(_eid(webhook.id, "left"), "peer.left", room, ended)
        left.update(peer_id=peer, reason=_enum_name(info, "status"))
        events.append(left)
    return events
