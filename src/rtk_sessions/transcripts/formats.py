"""Transcript files: final segments rendered as CSV, JSON, SRT or WebVTT.

Times in every format are milliseconds from the session start, clamped at 0 (a segment that
began before the session starts at 0). A segment ends at its ``ended_at``; without one, at the
next later start of any speaker, but at most 5 s after its own start (docs/api-decisions.md).

Choices the specs leave open:

* Cue hours use two digits and grow past 99 rather than cap: WebVTT allows two or more hour
  digits and SubRip readers take any number. A 100-hour session is unrealistic anyway.
* SRT and VTT cues last at least 1 ms. WebVTT requires the end after the start and SubRip
  tools drop cues with end <= start, so a zero-length segment would vanish. CSV and JSON keep
  the exact times.
* SubRip has no escaping, and readers end a cue at a blank line or at a line holding only a
  number followed by a timestamp-like line. An SRT cue is therefore one line,
  ``Name: text``, with the text's line breaks turned into spaces.
* WebVTT keeps line breaks but drops blank lines (they end a cue) and escapes ``&``, ``<``
  and ``>`` in the name and the text, so ``-->`` and tags cannot appear by accident.
* JSON never holds null: a missing string is ``""``; ``displayName`` is the display name as
  known, the fallbacks of the speaker name are in ``cpi`` and ``id``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

import msgspec

from rtk_sessions.kit.csvguard import neutralize
from rtk_sessions.kit.timeutil import to_iso

FORMATS = ("CSV", "JSON", "SRT", "VTT")
CONTENT_TYPES = {
    "CSV": "text/csv; charset=utf-8",
    "JSON": "application/json",
    "SRT": "application/x-subrip; charset=utf-8",
    "VTT": "text/vtt; charset=utf-8",
}
EXTENSIONS = {"CSV": "csv", "JSON": "json", "SRT": "srt", "VTT": "vtt"}
DEFAULT_DURATION_MS = 5_000

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Speaker:
    """What is known of the peer who spoke; times are epoch ms."""

    peer_id: str
    user_id: str | None
    custom_participant_id: str | None
    display_name: str | None
    joined_at_ms: int | None
    left_at_ms: int | None


@dataclass(frozen=True, slots=True)
class Segment:
    """One final utterance; times are epoch ms."""

    speaker: Speaker
    text: str
    started_at_ms: int
    ended_at_ms: int | None


@dataclass(frozen=True, slots=True)
class TimedSegment:
    """A segment placed on the session's clock: ms offsets, 0 <= start_ms <= end_ms."""

    start_ms: int
    end_ms: int
    speaker: Speaker
    text: str
    speaker_name: str


def speaker_name(display_name: str | None, custom_participant_id: str | None, peer_id: str) -> str:
    """Display name, else custom participant id, else peer id; blank values count as missing."""
    for candidate in (display_name, custom_participant_id):
        if candidate and candidate.strip():
            return candidate
    return peer_id


def parse_format(value: str | None) -> str:
    """The canonical format name from `?format=` in any case; missing or empty means CSV."""
    if not value:
        return "CSV"
    fmt = value.upper()
    if value.isascii() and fmt in FORMATS:
        return fmt
    raise ValueError(f"format must be one of CSV, JSON, SRT, VTT (any case); got {value!r}")


def _timed(segment: Segment, next_start_ms: int | None, session_start_ms: int) -> TimedSegment:
    start = segment.started_at_ms
    if segment.ended_at_ms is not None:
        end = segment.ended_at_ms
    elif next_start_ms is None:
        end = start + DEFAULT_DURATION_MS
    else:
        end = min(next_start_ms, start + DEFAULT_DURATION_MS)
    start_offset = max(0, start - session_start_ms)
    end_offset = max(start_offset, end - session_start_ms)
    sp = segment.speaker
    name = speaker_name(sp.display_name, sp.custom_participant_id, sp.peer_id)
    return TimedSegment(start_offset, end_offset, sp, segment.text, name)


def timed(segments: Iterable[Segment], session_start_ms: int) -> Iterator[TimedSegment]:
    """Place segments (ordered by start) on the session clock, streaming.

    Segments sharing a start time are held until the next later start arrives: they all end
    there, rather than at each other's start, which would make them zero-length.
    """
    group: list[Segment] = []
    for segment in segments:
        if group and segment.started_at_ms != group[0].started_at_ms:
            yield from (_timed(s, segment.started_at_ms, session_start_ms) for s in group)
            group = []
        group.append(segment)
    yield from (_timed(s, None, session_start_ms) for s in group)


def _iso_or_empty(ms: int | None) -> str:
    return "" if ms is None else to_iso(ms)


def _csv_writer(formula_guard: bool) -> Callable[[Iterable[TimedSegment], TextIO], int]:
    def write(items: Iterable[TimedSegment], out: TextIO) -> int:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        count = 0
        for item in items:
            count += 1
            sp = item.speaker
            cells = (
                str(item.start_ms),
                sp.peer_id,
                sp.user_id or "",
                sp.custom_participant_id or "",
                item.speaker_name,
                item.text,
            )
            writer.writerow(map(neutralize, cells) if formula_guard else cells)
        return count

    return write


def _json_element(item: TimedSegment) -> str:
    sp = item.speaker
    peer = {
        "id": sp.peer_id,
        "userId": sp.user_id or "",
        "displayName": sp.display_name or "",
        "cpi": sp.custom_participant_id or "",
        "joinedAt": _iso_or_empty(sp.joined_at_ms),
        "leftAt": _iso_or_empty(sp.left_at_ms),
    }
    element = {
        "startTime": item.start_ms,
        "endTime": item.end_ms,
        "sentence": item.text,
        "peerData": peer,
    }
    return msgspec.json.encode(element).decode()  # msgspec keeps non-ASCII as UTF-8


def _write_json(items: Iterable[TimedSegment], out: TextIO) -> int:
    """One JSON array, written element by element so it is never built whole."""
    out.write("[")
    count = 0
    for count, item in enumerate(items, 1):
        if count > 1:
            out.write(",")
        out.write(_json_element(item))
    out.write("]")
    return count


def _clock(ms: int, decimal_mark: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1_000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{decimal_mark}{millis:03d}"


def _timing(item: TimedSegment, decimal_mark: str) -> str:
    end = max(item.end_ms, item.start_ms + 1)
    return f"{_clock(item.start_ms, decimal_mark)} --> {_clock(end, decimal_mark)}"


def _lines(text: str) -> list[str]:
    """The text's lines without blank ones, which would end a cue."""
    return [line for line in _LINE_BREAK.split(text) if line.strip()]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _srt_content(item: TimedSegment) -> str:
    name = _one_line(item.speaker_name)
    text = " ".join(_lines(item.text))
    return f"{name}: {text}" if name else text


def _write_srt(items: Iterable[TimedSegment], out: TextIO) -> int:
    count = 0
    for count, item in enumerate(items, 1):
        out.write(f"{count}\n{_timing(item, ',')}\n{_srt_content(item)}\n\n")
    return count


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_payload(item: TimedSegment) -> str:
    name = _vtt_escape(_one_line(item.speaker_name))
    if name.endswith("-"):
        name += " "  # "<v A-->" would hold "-->"; readers strip the space from the voice
    text = "\n".join(_vtt_escape(line) for line in _lines(item.text))
    return f"<v {name}>{text}" if name else text


def _write_vtt(items: Iterable[TimedSegment], out: TextIO) -> int:
    out.write("WEBVTT\n")
    count = 0
    for count, item in enumerate(items, 1):
        out.write(f"\n{count}\n{_timing(item, '.')}\n{_vtt_payload(item)}\n")
    return count


_WRITERS: dict[str, Callable[[Iterable[TimedSegment], TextIO], int]] = {
    "CSV": _csv_writer(formula_guard=False),
    "CSV+guard": _csv_writer(formula_guard=True),
    "JSON": _write_json,
    "SRT": _write_srt,
    "VTT": _write_vtt,
}


def write_transcript(
    fmt: str,
    segments: Iterable[Segment],
    session_start_ms: int,
    out: TextIO,
    *,
    formula_guard: bool = False,
) -> int:
    """Write `segments` (ordered by start) in `fmt`, streaming; return the segment count.

    Open `out` with ``encoding="utf-8", newline=""``: CSV rows end in CRLF and must reach the
    file unchanged. `formula_guard` defuses spreadsheet formulas in CSV cells (kit.csvguard).
    """
    fmt = parse_format(fmt)
    writer = _WRITERS["CSV+guard" if fmt == "CSV" and formula_guard else fmt]
    return writer(timed(segments, session_start_ms), out)
