"""What the dashboard's pages draw, from what the services read: the timeline's bars, the
charts' series, and the small formatting the templates share. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rtk_sessions.quality.entries import entry_ms, figure_of, stream_of
from rtk_sessions.sessions.accounting import concurrency_steps, minutes
from rtk_sessions.sessions.consolidation import person_key
from rtk_sessions.sessions.repo import PeerRow, SessionRow
from rtk_sessions.transcripts.formats import speaker_name
from rtk_sessions.transcripts.repo import SegmentRow

TIMELINE_WIDTH = 1000  # the bars' coordinate space; the SVG stretches it to the page's width


def clock(ms: int | None) -> str:
    """A time as support staff read it in a log: 2026-12-06 10:04:05 UTC."""
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short_clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")


def figure(value: float) -> str:
    """A figure as the pages show it: two decimals, thousands separated (1,234.57)."""
    return f"{value:,.2f}"


def span(ms: int) -> str:
    """A duration: 45 s, 12 min 5 s, 2 h 3 min."""
    seconds = max(0, round(ms / 1000))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@dataclass(frozen=True)
class Bar:
    peer_id: str
    x: float
    width: float
    title: str  # shown on hover


@dataclass(frozen=True)
class TimelineRow:
    label: str
    peer_id: str  # the row's first peer, whose page the label links to
    bars: list[Bar]
    reconnects: int


@dataclass(frozen=True)
class TimelineGroup:
    title: str  # "" for the session itself, the room's title for a breakout room
    session_id: str
    rows: list[TimelineRow]


@dataclass(frozen=True)
class Timeline:
    start: int
    end: int
    groups: list[TimelineGroup]
    ticks: list[tuple[float, str]]
    hidden: int = 0  # people beyond the rows drawn


def timeline(
    session: SessionRow,
    rooms: Sequence[SessionRow],
    peers: Sequence[PeerRow],
    now: int,
    max_rows: int = 500,
) -> Timeline:
    """One row per person (their reconnects on it), the session's people first, then each
    breakout room's under its title; bars from join to leave (or now) on a shared axis. At
    most `max_rows` rows are drawn; `hidden` says how many more people there were."""
    start = min([session.started_at, *(p.joined_at for p in peers)])
    ends = [*(p.left_at or now for p in peers), *(s.ended_at or now for s in (session, *rooms))]
    end = max([start + 1, *ends])
    scale = TIMELINE_WIDTH / (end - start)
    groups, shown, hidden = [], 0, 0
    for room in (session, *rooms):
        people: dict[str, list[PeerRow]] = {}
        for peer in peers:
            if peer.session_id == room.id:
                people.setdefault(person_key(peer), []).append(peer)
        rows = [
            _row(visits, start, scale, now) for visits in list(people.values())[: max_rows - shown]
        ]
        shown += len(rows)
        hidden += len(people) - len(rows)
        if room is session or rows:
            groups.append(TimelineGroup("" if room is session else room.title, room.id, rows))
    ticks = [
        (TIMELINE_WIDTH * i / 4, short_clock(start + (end - start) * i // 4)) for i in range(5)
    ]
    return Timeline(start, end, groups, ticks, hidden)


def _row(visits: list[PeerRow], start: int, scale: float, now: int) -> TimelineRow:
    """A person's row: a bar per connection, labelled with their latest name."""
    visits.sort(key=lambda p: (p.joined_at, p.id))
    latest = visits[-1]
    label = speaker_name(latest.display_name, latest.custom_participant_id, latest.id)
    bars = []
    for p in visits:
        until = p.left_at if p.left_at is not None else now
        hover = f"{label}: {clock(p.joined_at)} – "
        hover += clock(p.left_at) if p.left_at is not None else "still connected"
        width = max(2.0, (until - p.joined_at) * scale)  # a short visit stays visible
        title = f"{hover} ({span(until - p.joined_at)})"
        bars.append(Bar(p.id, round((p.joined_at - start) * scale, 2), round(width, 2), title))
    return TimelineRow(label, visits[0].id, bars, len(visits) - 1)


def concurrency_chart(
    session: SessionRow, rooms: Sequence[SessionRow], peers: Sequence[PeerRow], now: int
) -> dict[str, Any]:
    """uPlot's data for people connected over time: the session, and each breakout room,
    as step series on one time axis (seconds), counted as the API's max_concurrent is."""
    names = [session.title or "session", *(r.title or r.id for r in rooms)]
    series: list[list[tuple[int, int]]] = []
    for room in (session, *rooms):
        intervals = [(p.joined_at, p.left_at) for p in peers if p.session_id == room.id]
        steps = concurrency_steps(intervals)
        if intervals and any(left is None for _, left in intervals):
            steps.append((now, steps[-1][1]))  # still connected: the line reaches now
        series.append(steps)
    times = sorted({at for steps in series for at, _ in steps})
    columns: list[list[float | None]] = [[t / 1000 for t in times]]
    for steps in series:
        column: list[float | None] = []
        index, current = 0, 0
        for t in times:
            while index < len(steps) and steps[index][0] <= t:
                current = steps[index][1]
                index += 1
            column.append(current)
        columns.append(column)
    return {"names": names, "data": columns, "unit": "people", "steps": True}


MAX_STREAMS = 6  # series per chart: more lines than this cannot be told apart


@dataclass(frozen=True)
class TimedSamples:
    """A peer report section's entries with their times read once, for all its charts: the
    union of the times, and each stream's (time, entry) in list order."""

    times: list[int]
    streams: dict[str, list[tuple[int, dict[str, Any]]]]


def timed_samples(entries: Iterable[dict[str, Any]]) -> TimedSamples:
    streams: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for entry in entries:
        at = entry_ms(entry)
        if at is not None:
            streams.setdefault(stream_of(entry), []).append((at, entry))
    times = sorted({at for timed in streams.values() for at, _ in timed})
    return TimedSamples(times, streams)


def series_chart(
    title: str, unit: str, samples: TimedSamples, fields: Sequence[tuple[str, str, float]]
) -> dict[str, Any] | None:
    """uPlot's data for a peer report section: a series per stream and (field, label, factor),
    on the union of the streams' times (a stream has no value at another's), values scaled
    by the factor (seconds to ms, bit/s to kbit/s). A section's first MAX_STREAMS streams
    are drawn; None when no entry carries any of the fields."""
    streams = list(samples.streams.items())[:MAX_STREAMS]
    index = {t: i for i, t in enumerate(samples.times)}
    columns: list[list[float | None]] = [[t / 1000 for t in samples.times]]
    names = []
    for name, label, factor in fields:
        for stream, timed in streams:
            values: list[float | None] = [None] * len(samples.times)
            for at, entry in timed:
                value = figure_of(entry, name, factor)
                values[index[at]] = None if value is None else round(value, 3)
            if any(v is not None for v in values):
                columns.append(values)
                names.append(
                    label if len(streams) == 1 else f"{label} · {_stream_label(stream, timed)}"
                )
    if not names:
        return None
    return {"title": title, "names": names, "data": columns, "unit": unit, "steps": False}


def _stream_label(stream: str, timed: Sequence[tuple[int, dict[str, Any]]]) -> str:
    """A consumer's stream by the peer it comes from, a producer's by its SSRC."""
    remote = next((e["peer_id"] for _, e in timed if e.get("peer_id")), None)
    return f"from {str(remote)[:8]}" if remote else f"ssrc {stream}"


def usage_chart(days: Sequence[Any]) -> dict[str, Any]:
    """uPlot's data for the usage page: minutes and sessions per UTC day."""
    return {
        "names": ["minutes", "sessions"],
        "data": [
            [d.day * 86_400 for d in days],
            [minutes(d.ms) for d in days],
            [d.sessions for d in days],
        ],
        "unit": "per day",
        "steps": False,
        "bars": True,
    }


def peer_events(participant: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(time, what, details) of a peer's lifecycle events and the events its SDK reported
    (`metadata.events` of its report), in time order."""
    found = [
        (e.get("created_at") or "", e.get("event_name") or "", "")
        for e in participant.get("peer_events") or []
    ]
    metadata = (participant.get("peer_report") or {}).get("metadata") or {}
    for e in metadata.get("events") or []:
        details = ", ".join(f"{k}: {v}" for k, v in (e.get("metadata") or {}).items())
        found.append((e.get("timestamp") or "", str(e.get("name")), details))
    return sorted(found)


def facts(values: Any) -> list[tuple[str, str]]:
    """A report section's scalar fields as (label, text) pairs, blanks left out."""
    if not isinstance(values, dict):
        return []
    return [
        (k.replace("_", " "), str(v))
        for k, v in values.items()
        if v not in (None, "", [], {}) and not isinstance(v, dict | list)
    ]


@dataclass(frozen=True)
class TranscriptLine:
    at: int  # epoch ms
    offset: str  # from the session's start, as a duration
    speaker: str
    peer_id: str
    text: str


def transcript_lines(
    segments: Sequence[SegmentRow], started_at: int, term: str, limit: int
) -> tuple[list[TranscriptLine], int]:
    """The first `limit` segments whose text holds `term` (any case; all when empty), as the
    page lists them, and how many hold it."""
    needle = term.lower()
    matching = [s for s in segments if needle in s.text.lower()]
    lines = [
        TranscriptLine(
            s.started_at,
            span(s.started_at - started_at),
            speaker_name(s.display_name, s.custom_participant_id, s.peer_id),
            s.peer_id,
            s.text,
        )
        for s in matching[:limit]
    ]
    return lines, len(matching)


# A peer report section's charts: (title, unit, (field, label, factor to the unit) ...).
QUALITY_CHARTS = (
    ("MOS", "MOS (1–4.5)", (("mos_quality", "MOS", 1.0),)),
    ("Packet loss", "%", (("packet_loss_pct", "loss %", 1.0),)),
    ("Round trip and jitter", "ms", (("rtt", "RTT ms", 1000.0), ("jitter", "jitter ms", 1000.0))),
    ("Bitrate", "kbit/s", (("bitrate_bps", "kbit/s", 0.001),)),
    ("Frame rate", "fps", (("frames_per_second", "fps", 1.0),)),
)


@dataclass(frozen=True)
class QualitySection:
    name: str
    charts: list[dict[str, Any]]
    samples: int
    cumulative: dict[str, Any]


def quality_sections(quality: dict[str, Any]) -> list[QualitySection]:
    """Each section of a peer report's `quality` that has samples: its charts (those with a
    series) and its whole-call figures."""
    found = []
    for name, entries in quality.items():
        if name.endswith("_cumulative") or not entries:
            continue
        samples = timed_samples(entries)
        charts = [
            chart
            for title, unit, fields in QUALITY_CHARTS
            if (chart := series_chart(title, unit, samples, fields)) is not None
        ]
        cumulative = quality.get(f"{name}_cumulative") or {}
        found.append(QualitySection(name, charts, len(entries), cumulative))
    return found
