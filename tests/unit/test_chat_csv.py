"""Chat export CSV (docs/api-decisions.md): columns, RFC 4180 quoting, streaming, round trips.

Every file is read back the way a consumer would: UTF-8 bytes decoded and parsed with
Python's ``csv`` module under ``newline=""`` semantics.
"""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TextIO, cast

from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.chat.csv_export import CHAT_COLUMNS, ChatRow, write_chat_csv

CREATED = 1_780_482_600_123  # 2026-06-03T10:30:00.123Z
ROW = ChatRow(
    message_id="msg-1",
    sender_peer_id="peer-1",
    session_id="sess-1",
    meeting_id="meet-1",
    display_name="Alice",
    pinned=True,
    is_edited=False,
    payload_type="TEXT_MESSAGE",
    payload="hello",
    created_at_ms=CREATED,
)


def render(rows: list[ChatRow]) -> str:
    out = io.StringIO(newline="")
    assert write_chat_csv(iter(rows), out) == len(rows)
    return out.getvalue()


def parse(text: str) -> list[list[str]]:
    """As a consumer reads the file: UTF-8 bytes, then csv with newline=""."""
    decoded = text.encode("utf-8").decode("utf-8")
    return list(csv.reader(io.StringIO(decoded, newline="")))


def test_header_has_the_documented_columns_in_order() -> None:
    assert CHAT_COLUMNS == (
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
    assert render([]) == ",".join(CHAT_COLUMNS) + "\r\n"


def test_plain_row_exact_text() -> None:
    assert render([ROW]).splitlines(keepends=True)[1] == (
        "msg-1,peer-1,sess-1,meet-1,Alice,true,false,TEXT_MESSAGE,hello,2026-06-03T10:30:00.123Z\r\n"
    )


def test_booleans_and_missing_display_name() -> None:
    row = replace(ROW, display_name=None, pinned=False, is_edited=True)
    _, fields = parse(render([row]))
    assert fields[4:7] == ["", "false", "true"]


def test_created_at_is_iso_utc_with_milliseconds() -> None:
    rows = [replace(ROW, created_at_ms=0), replace(ROW, created_at_ms=CREATED)]
    assert [r[9] for r in parse(render(rows))[1:]] == [
        "1970-01-01T00:00:00.000Z",
        "2026-06-03T10:30:00.123Z",
    ]


def test_awkward_payload_and_name_round_trip_field_by_field() -> None:
    payload = 'a, "quoted" b\r\nline two\nline three\rend 😀 שלום עולם 你好，世界'
    row = replace(ROW, display_name='O"Brien, 李 🙂', payload=payload)
    header, fields = parse(render([row]))
    assert header == list(CHAT_COLUMNS)
    assert fields == [
        "msg-1",
        "peer-1",
        "sess-1",
        "meet-1",
        'O"Brien, 李 🙂',
        "true",
        "false",
        "TEXT_MESSAGE",
        payload,
        "2026-06-03T10:30:00.123Z",
    ]


def test_formula_like_cells_are_kept_as_sent() -> None:
    """Not neutralized (module docstring): chat text such as @alice or +1 must survive."""
    texts = ["=SUM(A1:A2)", "+1", "-- sent from my phone", "@alice see this"]
    rows = [replace(ROW, payload=t, display_name=t) for t in texts]
    parsed = parse(render(rows))[1:]
    assert [r[8] for r in parsed] == texts
    assert [r[4] for r in parsed] == texts


def test_file_is_utf8_without_bom(tmp_path: Path) -> None:
    path = tmp_path / "chat.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        write_chat_csv([replace(ROW, payload="ü\nß")], out)
    data = path.read_bytes()
    assert data.startswith(b"id,participantId,")
    assert '"ü\nß"'.encode() in data  # the line break inside the field is not translated


def test_largest_payload_parses_within_default_csv_limits() -> None:
    """64 KiB of quotes doubles on disk, yet reads back under csv's default field limit."""
    payload = '"' * 65_536
    assert parse(render([replace(ROW, payload=payload)]))[1][8] == payload


class LineSink(io.TextIOBase):
    """Counts what is written and, per write, how many rows the source had produced."""

    def __init__(self, produced: list[int]) -> None:
        self.chars = 0
        self.produced_at_write: list[int] = []
        self._produced = produced

    def write(self, s: str) -> int:
        self.chars += len(s)
        self.produced_at_write.append(self._produced[0])
        return len(s)


def many_rows(n: int, produced: list[int]) -> Iterator[ChatRow]:
    for i in range(n):
        produced[0] += 1
        yield replace(ROW, message_id=f"msg-{i}", payload=f"message number {i}, with a comma")


def test_streams_rows_without_collecting_them() -> None:
    n = 100_000
    produced = [0]
    sink = LineSink(produced)
    tracemalloc.start()
    try:
        count = write_chat_csv(many_rows(n, produced), cast(TextIO, sink))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    # header first, then row k is written right after the source produced row k
    assert sink.produced_at_write == list(range(n + 1))
    assert sink.chars > 8_000_000  # the output is bigger than the memory it took
    assert peak < 5_000_000


# NUL and every other control character included: Python 3.11's csv carries them all.
@given(payload=st.text(), name=st.one_of(st.none(), st.text()))
def test_any_text_round_trips_exactly(payload: str, name: str | None) -> None:
    row = replace(ROW, payload=payload, display_name=name)
    parsed = parse(render([row]))
    assert len(parsed) == 2
    assert parsed[1][8] == payload
    assert parsed[1][4] == (name or "")
