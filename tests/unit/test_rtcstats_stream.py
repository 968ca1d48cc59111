"""The incremental reader (`DumpReader`): a dump fed line by line, its events taken at any
points in between, gives exactly the events, ids and figures of the whole-file import, so a
live stream and a later upload of its stored dump agree event for event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtk_sessions.ingest.rtcstats import DumpReader, parse_dump
from rtk_sessions.ingest.rtcstats_import import read_dump
from rtk_sessions.ingest.rtcstats_lines import numbered_lines
from support import DATA

PEER, MEETING = "peer-1", "meeting-1"
DUMPS = sorted((DATA / "rtcstats" / "dumps").glob("*.jsonl"))
_LINES = {p.stem: list(numbered_lines(p.read_bytes())) for p in DUMPS}


def _streamed(lines: list[tuple[int, bytes]], cuts: set[int]) -> tuple[list[Any], Any]:
    """Feed `lines`, taking the events after every line index in `cuts`."""
    reader = DumpReader(PEER, MEETING)
    events: list[Any] = []
    for index, (lineno, raw) in enumerate(lines):
        reader.feed(lineno, raw)
        if index in cuts:
            events.extend(reader.take_events())
    events.extend(reader.take_events())
    events.extend(reader.finish_events())
    return events, reader.finish()


@pytest.mark.parametrize("path", DUMPS, ids=[p.stem for p in DUMPS])
def test_a_dump_streamed_line_by_line_equals_its_upload(path: Path) -> None:
    whole, dump = read_dump(path.read_bytes(), PEER, MEETING, 2**30)
    lines = _LINES[path.stem]
    streamed, finished = _streamed(lines, set(range(0, len(lines), 7)))
    assert streamed == whole
    assert finished.events == []  # all taken
    assert finished.figures == dump.figures
    assert finished.skipped_lines == dump.skipped_lines
    assert finished.skipped == dump.skipped


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(_LINES)),
    cuts=st.sets(st.integers(min_value=0, max_value=2000), max_size=40),
)
def test_taking_events_at_any_points_changes_nothing(name: str, cuts: set[int]) -> None:
    lines = _LINES[name]
    whole = parse_dump(b"\n".join(raw for _, raw in lines), peer_id=PEER, meeting_id=MEETING)
    streamed, finished = _streamed(lines, cuts)
    figures = streamed.pop()  # the figures event comes last
    assert streamed == whole.events
    assert figures["rtcstats_connections"].keys() == whole.figures.keys()
    assert finished.figures == whole.figures


def test_a_reader_with_no_connection_gives_no_figures_event() -> None:
    reader = DumpReader(PEER, MEETING)
    reader.feed(1, b'["connectionInfo",null,{"userAgent":"UA"},1700000000000]')
    reader.feed(2, b'["dominantSpeaker",null,{},1700000000001]')
    assert [e["type"] for e in reader.take_events()] == ["peer.metadata"]
    assert reader.take_events() == []
    assert reader.finish_events() == []
