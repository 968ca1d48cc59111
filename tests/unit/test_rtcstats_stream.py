"""The incremental reader (`DumpReader`): a dump fed line by line, its events taken at any
points in between, gives exactly the events, ids and figures of the whole-file import, so a
live stream and a later upload of its stored dump agree event for event. Every stored
variant is covered: the Jitsi dumps, an older Jitsi dump without metadata line, the
rtcstats.com sample and the Jitsi dumps re-encoded as rtcstats.com file format 3."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcstats_encoder import as_rtcstats_dump
from rtk_sessions.ingest.rtcstats import DumpReader, parse_dump
from rtk_sessions.ingest.rtcstats_import import read_dump
from rtk_sessions.ingest.rtcstats_lines import numbered_lines
from support import DATA

PEER, MEETING = "peer-1", "meeting-1"
RTCSTATS = DATA / "rtcstats"
_JITSI = {p.stem: p.read_bytes() for p in sorted((RTCSTATS / "dumps").glob("*.jsonl"))}
DUMPS = {
    **_JITSI,
    "google-legacy-screenshare-p2p": (
        RTCSTATS / "jitsi-other" / "google-legacy-screenshare-p2p.jsonl"
    ).read_bytes(),
    "gumonly": (RTCSTATS / "rtcstats-com" / "gumonly.jsonl").read_bytes(),
    **{f"{name}-format-3": as_rtcstats_dump(data)[0] for name, data in _JITSI.items()},
}
_LINES = {name: list(numbered_lines(data)) for name, data in DUMPS.items()}


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


@pytest.mark.parametrize("name", sorted(DUMPS))
def test_a_dump_streamed_line_by_line_equals_its_upload(name: str) -> None:
    whole, dump = read_dump(DUMPS[name], PEER, MEETING, 2**30)
    lines = _LINES[name]
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
    if whole.figures:
        figures = streamed.pop()  # the figures event comes last
        assert figures["rtcstats_connections"].keys() == whole.figures.keys()
    assert streamed == whole.events
    assert finished.figures == whole.figures


def test_a_reader_with_no_connection_gives_no_figures_event() -> None:
    reader = DumpReader(PEER, MEETING)
    reader.feed(1, b'["connectionInfo",null,{"userAgent":"UA"},1700000000000]')
    reader.feed(2, b'["dominantSpeaker",null,{},1700000000001]')
    assert [e["type"] for e in reader.take_events()] == ["peer.metadata"]
    assert reader.take_events() == []
    assert reader.finish_events() == []
