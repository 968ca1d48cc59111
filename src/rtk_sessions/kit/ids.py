"""Deterministic ids: the same events always give the same ids, so `rebuild` keeps them."""

from __future__ import annotations

import hashlib
import uuid

_SESSION_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/rtk-sessions/session")
_PEER_EVENT_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/rtk-sessions/peer-event")


def uuid5_text(namespace: uuid.UUID, name: str) -> str:
    """`str(uuid.uuid5(namespace, name))` in a third of the time (no UUID object): every
    participants read makes three of these per peer (bench/README.md, read path)."""
    digest = bytearray(
        hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def session_id(app_id: str, meeting_id: str, first_peer_id: str) -> str:
    """UUIDv5 of (app id, meeting id, peer id of the session's earliest join)."""
    return uuid5_text(_SESSION_NS, f"{app_id}\x1f{meeting_id}\x1f{first_peer_id}")


def peer_event_id(peer_id: str, event_name: str) -> str:
    """UUIDv5 of (peer id, event name)."""
    return uuid5_text(_PEER_EVENT_NS, f"{peer_id}\x1f{event_name}")


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
