"""Event ids for what RealtimeKit reports, shared by its webhooks and the history import.

The same fact gets the same id whichever way it arrives (a webhook, its retry, an import run,
the next import run), so ingestion's idempotency makes every repeat a duplicate. Ids follow
the event id rules (docs/events.md): at most 128 of `A-Z a-z 0-9 . _ : -`.
"""

from __future__ import annotations

import hashlib

PREFIX = "rtk"


def _digest(*parts: object) -> str:
    """A short stable digest for parts that are not ids themselves (texts, times)."""
    joined = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def _safe(value: str) -> str:
    """An id part as it is when it follows the id rules, else its digest."""
    ok = (
        value
        and len(value) <= 80
        and all(c.isascii() and (c.isalnum() or c in "._-") for c in value)
    )
    return value if ok else _digest(value)


def session_started(session_id: str) -> str:
    return f"{PREFIX}:{_safe(session_id)}:started"


def session_ended(session_id: str) -> str:
    return f"{PREFIX}:{_safe(session_id)}:ended"


def peer_joined(peer_id: str) -> str:
    return f"{PREFIX}:{_safe(peer_id)}:joined"


def peer_left(peer_id: str) -> str:
    return f"{PREFIX}:{_safe(peer_id)}:left"


def chat_message(session_id: str, message_id: str) -> str:
    return f"{PREFIX}:{_safe(session_id)}:chat:{_safe(message_id)}"


def transcript_segment(session_id: str, peer_id: str, started_at_ms: int, text: str) -> str:
    """Transcript entries have no id of their own: speaker, start and text make one."""
    return f"{PREFIX}:{_safe(session_id)}:seg:{_digest(peer_id, started_at_ms, text)}"


def peer_event(peer_id: str, name: str, at_ms: int) -> str:
    return f"{PREFIX}:{_safe(peer_id)}:ev:{_digest(name, at_ms)}"


def meeting_updated(session_id: str, title: str, session_type: str, meta_json: str) -> str:
    """A session's title, type and meta (canonical JSON) as read at one time: a changed value
    is a new fact."""
    return f"{PREFIX}:{_safe(session_id)}:meeting:{_digest(title, session_type, meta_json)}"


def chat_revision(
    session_id: str, message_id: str, payload_type: str, payload: str, pinned: bool, edited: bool
) -> str:
    """A message as read again later (edited, pinned): one id per distinct content."""
    content = _digest(message_id, payload_type, payload, pinned, edited)
    return f"{PREFIX}:{_safe(session_id)}:chatrev:{content}"
