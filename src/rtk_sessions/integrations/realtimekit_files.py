"""RealtimeKit's chat and transcript files as events (docs/integrations.md).

The chat file is the chat export's CSV (a header row; docs/files.md); the transcript file is
the transcript CSV without a header: start in ms from the session start, peer id, user id,
custom participant id, speaker name, text. Pure functions; a file that does not parse is a
FileRefused, which no retry can fix.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from rtk_sessions.chat.csv_export import CHAT_COLUMNS
from rtk_sessions.integrations import realtimekit_ids as ids
from rtk_sessions.kit.timeutil import parse_rfc3339_ms


class FileRefused(ValueError):
    """The downloaded file is not what its webhook said it is; the message says where."""


def _text_of(data: bytes, what: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused(f"the {what} file is not UTF-8") from None
    if "\x00" in text:
        raise FileRefused(f"the {what} file holds a NUL character")
    return text


def _rows(text: str, what: str) -> list[list[str]]:
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise FileRefused(f"the {what} file is not CSV ({exc})") from None


def chat_events(data: bytes, session_id: str, meeting_id: str) -> list[dict[str, Any]]:
    """One `chat.message` per row of a chat export."""
    rows = [r for r in _rows(_text_of(data, "chat"), "chat") if r]
    if not rows:
        return []
    header = rows[0]
    missing = [c for c in CHAT_COLUMNS if c not in header]
    if missing:
        raise FileRefused(f"the chat file lacks the columns {', '.join(missing)}")
    at = {name: header.index(name) for name in CHAT_COLUMNS}
    events = []
    for line, row in enumerate(rows[1:], 2):
        if len(row) != len(header):
            raise FileRefused(f"chat file line {line}: {len(row)} fields, expected {len(header)}")
        cell = {name: row[i] for name, i in at.items()}
        created = parse_rfc3339_ms(cell["createdAt"])
        if created is None:
            raise FileRefused(f"chat file line {line}: createdAt is not a timestamp")
        events.append({
            "id": ids.chat_message(session_id, cell["id"]),
            "type": "chat.message",
            "occurred_at": created,
            "meeting_id": meeting_id,
            "message_id": cell["id"],
            "peer_id": cell["participantId"],
            "payload_type": cell["payloadType"] or "TEXT_MESSAGE",
            "payload": cell["payload"],
            "pinned": cell["pinned"].lower() == "true",
            "is_edited": cell["isEdited"].lower() == "true",
        })  # fmt: skip
    return events


def transcript_events(
    data: bytes, session_id: str, meeting_id: str, session_started_at: int
) -> list[dict[str, Any]]:
    """One final `transcript.segment` per row, placed at the session start plus its offset."""
    events = []
    for line, row in enumerate(_rows(_text_of(data, "transcript"), "transcript"), 1):
        if not row:
            continue
        if len(row) != 6:
            raise FileRefused(f"transcript file line {line}: {len(row)} fields, expected 6")
        offset, peer_id, _user, _custom, _name, text = row
        if not offset.isdigit() or len(offset) > 12:
            raise FileRefused(f"transcript file line {line}: the start is not whole milliseconds")
        started = session_started_at + int(offset)
        events.append({
            "id": ids.transcript_segment(session_id, peer_id, started, text),
            "type": "transcript.segment",
            "occurred_at": started,
            "started_at": started,
            "meeting_id": meeting_id,
            "peer_id": peer_id,
            "text": text,
        })  # fmt: skip
    return events


def summary_text(data: bytes) -> str:
    return _text_of(data, "summary")
