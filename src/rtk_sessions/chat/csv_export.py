"""The chat export: one CSV row per message, in the columns RealtimeKit documents.

The file is RFC 4180 CSV (CRLF line ends, fields quoted only when they hold a comma, a quote
or a line break, quotes doubled), UTF-8 **without a BOM**. The export is read by programs far
more often than by people: a BOM turns the first column name into ``"\\ufeffid"`` for every
reader that does not strip it (Python's ``csv`` with ``utf-8``, ``cut``, many JSON/CSV
converters), while Excel users can load it via Data > From Text/CSV, which detects UTF-8.

By default cells starting with ``=``, ``+``, ``-`` or ``@`` are written **as sent**. Chat
text starts that way all the time (``@alice``, ``+1``, ``-- sent from my phone``), the export
is a record of what was said, and a prefix would corrupt every one of those messages for the
programs that read it. Deployments whose users open the file in a spreadsheet set
RTK_CSV_FORMULA_GUARD (``kit.csvguard``, docs/security.md).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from rtk_sessions.kit.csvguard import neutralize
from rtk_sessions.kit.timeutil import to_iso

CHAT_COLUMNS = (
    "id",
    "participantId",
    "sessionId",
    "meetingId",
    "displayName",
    "pinned",
    "isEdited",
    "payloadType",
    "payload",
    "createdAt",
)


@dataclass(frozen=True, slots=True)
class ChatRow:
    """One message as exported: its latest payload and flags, its first time and sender."""

    message_id: str
    sender_peer_id: str
    session_id: str
    meeting_id: str
    display_name: str | None
    pinned: bool
    is_edited: bool
    payload_type: str
    payload: str
    created_at_ms: int


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _cells(row: ChatRow) -> tuple[str, ...]:
    return (
        row.message_id,
        row.sender_peer_id,
        row.session_id,
        row.meeting_id,
        row.display_name or "",
        _bool(row.pinned),
        _bool(row.is_edited),
        row.payload_type,
        row.payload,
        to_iso(row.created_at_ms),
    )


def write_chat_csv(rows: Iterable[ChatRow], out: TextIO, *, formula_guard: bool = False) -> int:
    """Write the header and one line per row as `rows` yields them; return the row count.

    Streams: a session's chat can be large, so rows are never collected. Open `out` with
    ``encoding="utf-8", newline=""`` so the CRLF line ends and line breaks inside quoted
    payloads reach the file unchanged. `formula_guard`: every cell quoted, formulas defused.
    """
    if formula_guard:
        writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    else:
        writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CHAT_COLUMNS)
    count = 0
    for row in rows:
        cells = _cells(row)
        writer.writerow(map(neutralize, cells) if formula_guard else cells)
        count += 1
    return count
