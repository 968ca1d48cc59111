"""Deterministic ids: the same events always give the same ids, so `rebuild` keeps them."""

from __future__ import annotations

import uuid

_SESSION_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/rtk-sessions/session")
_PEER_EVENT_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/rtk-sessions/peer-event")


def session_id(app_id: str, meeting_id: str, first_peer_id: str) -> str:
    """UUIDv5 of (app id, meeting id, peer id of the session's earliest join)."""
    return str(uuid.uuid5(_SESSION_NS, f"{app_id}\x1f{meeting_id}\x1f{first_peer_id}"))


def peer_event_id(peer_id: str, event_name: str) -> str:
    """UUIDv5 of (peer id, event name)."""
    return str(uuid.uuid5(_PEER_EVENT_NS, f"{peer_id}\x1f{event_name}"))


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
