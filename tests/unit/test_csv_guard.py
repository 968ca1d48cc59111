"""RTK_CSV_FORMULA_GUARD on the two CSV writers: OWASP's leading characters get a ', every
cell is quoted, and nothing else changes; off, the data is exact."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from rtk_sessions.chat.csv_export import ChatRow, write_chat_csv
from rtk_sessions.kit.csvguard import guard_variant, neutralize
from rtk_sessions.transcripts.formats import Segment, Speaker, write_transcript

ROW = ChatRow("m1", "p1", "s1", "meet", "Alice", False, False, "TEXT_MESSAGE", "hi", 0)
DANGEROUS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x")']
HARMLESS = ["", "1+1", " =1+1", "a=b", "'=quoted", "\n=1", "plain"]


@pytest.mark.parametrize("cell", DANGEROUS)
def test_owasp_leading_characters_get_a_quote(cell: str) -> None:
    assert neutralize(cell) == "'" + cell


@pytest.mark.parametrize("cell", HARMLESS)
def test_other_cells_are_unchanged(cell: str) -> None:
    assert neutralize(cell) == cell


def chat(payloads: list[str], guard: bool) -> str:
    out = io.StringIO(newline="")
    rows = [replace(ROW, payload=p, display_name=p) for p in payloads]
    write_chat_csv(rows, out, formula_guard=guard)
    return out.getvalue()


def test_chat_guard_quotes_every_cell_and_defuses_formulas() -> None:
    text = chat(DANGEROUS + HARMLESS, guard=True)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[8] for r in rows[1:]] == ["'" + c for c in DANGEROUS] + HARMLESS
    assert [r[4] for r in rows[1:]] == ["'" + c for c in DANGEROUS] + HARMLESS
    assert text.startswith('"id","participantId",') and '"hi"' not in text


def test_chat_without_the_guard_is_exact() -> None:
    rows = list(csv.reader(io.StringIO(chat(DANGEROUS, guard=False), newline="")))
    assert [r[8] for r in rows[1:]] == DANGEROUS


def test_transcript_csv_guard_and_other_formats_untouched() -> None:
    speaker = Speaker("-peer", "@user", "+cpi", "=name", None, None)
    segments = [Segment(speaker, "-2 points", 1000, None)]
    out = io.StringIO(newline="")
    write_transcript("CSV", segments, 0, out, formula_guard=True)
    [row] = csv.reader(io.StringIO(out.getvalue(), newline=""))
    assert row == ["1000", "'-peer", "'@user", "'+cpi", "'=name", "'-2 points"]
    vtt = io.StringIO(newline="")
    write_transcript("VTT", segments, 0, vtt, formula_guard=True)
    assert "<v =name>-2 points" in vtt.getvalue()


def test_the_guard_changes_the_whole_fingerprint() -> None:
    assert guard_variant("ab" * 32, False) == "ab" * 32
    guarded = guard_variant("ab" * 32, True)
    assert len(guarded) == 64 and guarded[:32] != ("ab" * 32)[:32]
