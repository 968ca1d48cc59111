"""The peer report's `quality` object from a peer's raw `peer.stats` samples.

Samples are grouped into streams by (`pc_id`, `direction`, `ssrc`) and streams into the eight
sections by kind, direction and source. Each section gets a per-sample list (one entry per
sample, counters as received, the figures of the interval ending there) and a cumulative
over every interval of its streams. Long lists are capped by merging neighbouring entries of
the same stream; the cumulatives never are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.quality.distributions import cumulative, mean
from rtk_sessions.quality.intervals import (
    LIMITATION_REASONS,
    Column,
    Interval,
    column,
    finite,
    loss_percent,
    number,
    per_emitted_ms,
    stream_intervals,
)

SECTIONS = tuple(
    f"{source}{kind}_{role}"
    for source in ("", "screenshare_")
    for kind in ("audio", "video")
    for role in ("producer", "consumer")
)
_LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the last instant `to_iso` can write
_BY_TIME = itemgetter("timestamp_ms")
_DIRECTIONS = ("inbound", "outbound")
_KINDS = ("audio", "video")

# Per-sample fields copied from the entry's (last) sample, by section type.
_COUNTERS = {
    ("audio", "producer"): ("bytes_sent", "packets_lost", "packets_sent"),
    ("audio", "consumer"): (
        "bytes_received", "concealment_events", "jitter_buffer_delay",
        "jitter_buffer_emitted_count", "packets_lost", "packets_received",
    ),
    ("video", "producer"): (
        "bytes_sent", "fir_count", "frame_height", "frame_width", "frames_encoded",
        "key_frames_encoded", "packets_lost", "packets_sent", "pli_count",
        "quality_limitation_resolution_changes",
    ),
    ("video", "consumer"): (
        "bytes_received", "fir_count", "frame_height", "frame_width", "frames_decoded",
        "frames_dropped", "jitter_buffer_delay", "jitter_buffer_emitted_count",
        "key_frames_decoded", "packets_lost", "packets_received",
    ),
}  # fmt: skip
_IDS = {"producer": ("mid", "producer_id"), "consumer": ("mid", "producer_id", "consumer_id")}
_DURATIONS = ("bandwidth", "cpu", "none", "other")
_GAUGE_NAMES = {"round_trip_time": "rtt"}


@dataclass(frozen=True)
class _Section:
    """What a section's entries contain, from its name."""

    kind: str
    role: str
    counters: tuple[str, ...]
    ids: tuple[str, ...]

    @classmethod
    def named(cls, name: str) -> _Section:
        kind, role = name.removeprefix("screenshare_").split("_")
        return cls(kind, role, _COUNTERS[kind, role], _IDS[role])


@dataclass(frozen=True)
class _Stream:
    """One stream's samples (by time), the interval ending at each, and the gauges that
    merged entries average (columns aligned with the samples)."""

    samples: list[dict[str, Any]]
    intervals: list[Interval | None]
    gauges: dict[str, Column]

    @classmethod
    def of(cls, samples: list[dict[str, Any]], section: _Section) -> _Stream:
        names: tuple[str, ...] = ("jitter",)
        if section.role == "producer":
            names += ("round_trip_time",)
        if section.kind == "video":
            names += ("frames_per_second",)
        gauges = {name: column(samples, name) for name in names}
        return cls(samples, stream_intervals(samples), gauges)


def build_quality(samples: Iterable[dict[str, Any]], *, max_points: int = 720) -> dict[str, Any]:
    """The whole `quality` object: all 16 keys, lists possibly empty, cumulatives possibly {}.

    Samples carry `timestamp_ms` (epoch ms); ones that cannot be placed in a stream (no
    usable time, kind, direction or ssrc) are left out.
    """
    by_section = _streams(samples)
    quality: dict[str, Any] = {}
    for name in SECTIONS:
        section = _Section.named(name)
        streams = [_Stream.of(s, section) for s in by_section.get(name, [])]
        quality[name] = _entries(section, streams, max(1, max_points))
        quality[f"{name}_cumulative"] = cumulative(
            (i for stream in streams for i in stream.intervals if i is not None),
            video=section.kind == "video",
            producer=section.role == "producer",
        )
    return quality


def _streams(samples: Iterable[dict[str, Any]]) -> dict[str, list[list[dict[str, Any]]]]:
    """Each section's streams, each sorted by time; streams in order of their first sample."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for s in samples:
        get = s.get
        at, ssrc, pc_id, direction = (
            get("timestamp_ms"),
            get("ssrc"),
            get("pc_id"),
            get("direction"),
        )
        if (
            at.__class__ is int
            and ssrc.__class__ is int
            and 0 <= at <= _LAST_MS
            and direction in _DIRECTIONS
            and get("kind") in _KINDS
        ):
            key = (pc_id if pc_id.__class__ is str else "", direction, ssrc)
            group = groups.get(key)
            if group is None:
                groups[key] = group = []
            group.append(s)
    ordered = {key: sorted(group, key=_BY_TIME) for key, group in groups.items()}
    by_section: dict[str, list[list[dict[str, Any]]]] = {}
    for key in sorted(ordered, key=lambda k: (ordered[k][0]["timestamp_ms"], k)):
        group = ordered[key]
        by_section.setdefault(_section_name(group), []).append(group)
    return by_section


def _section_name(group: Sequence[dict[str, Any]]) -> str:
    first = group[0]
    role = "producer" if first["direction"] == "outbound" else "consumer"
    screen = any(s.get("source") == "screenshare" for s in group)
    return f"{'screenshare_' if screen else ''}{first['kind']}_{role}"


def shares(lengths: Sequence[int], max_points: int) -> list[int]:
    """How many entries each stream gets: all its samples if the section fits, otherwise a
    share proportional to its length (at least one while the budget lasts)."""
    if sum(lengths) <= max_points:
        return list(lengths)
    total = sum(lengths)
    out = [min(n, max(1, n * max_points // total)) for n in lengths]
    # Lifting short streams to one entry can overshoot: take back from the largest shares
    # first and, with more streams than points, drop the shortest streams.
    by_size = sorted(range(len(out)), key=lambda i: (-out[i], lengths[i], i))
    excess = sum(out) - max_points
    while excess > 0:
        for i in by_size:
            if excess > 0 and out[i] > 0 and (out[i] > 1 or len(out) > max_points):
                out[i] -= 1
                excess -= 1
    return out


def _entries(section: _Section, streams: Sequence[_Stream], max_points: int) -> list[Any]:
    """The section's list: each stream cut into runs of equal length, one entry per run,
    ordered by time (then stream)."""
    rows: list[tuple[int, int, dict[str, Any]]] = []
    for index, (stream, share) in enumerate(
        zip(streams, shares([len(s.samples) for s in streams], max_points), strict=True)
    ):
        if not share:
            continue
        n = len(stream.samples)
        size = -(-n // share)
        for start in range(0, n, size):
            run = range(start, min(n, start + size))
            entry = _entry(section, stream, run)
            rows.append((stream.samples[run[-1]]["timestamp_ms"], index, entry))
    rows.sort(key=itemgetter(0, 1))
    return [row[2] for row in rows]


def _entry(section: _Section, stream: _Stream, run: range) -> dict[str, Any]:
    """One list entry: the run's last sample as received, with the figures of the span from
    the sample before the run to its last one."""
    last = stream.samples[run[-1]]
    get = last.get
    entry: dict[str, Any] = {name: number(get(name)) for name in section.counters}
    for name in section.ids:
        entry[name] = _text(get(name))
    entry["ssrc"] = last["ssrc"]
    entry["timestamp"] = to_iso(last["timestamp_ms"])
    for name, values in stream.gauges.items():
        entry[_GAUGE_NAMES.get(name, name)] = _mean_of(values[run.start : run.stop])
    if section.role == "consumer":
        entry["peer_id"] = _text(get("remote_peer_id"))
    elif section.kind == "video":
        entry.update(_limitation(last))
    entry.update(_figures(stream.intervals[run.start : run.stop], section.role == "consumer"))
    return entry


def _figures(intervals: list[Interval | None], consumer: bool) -> dict[str, float | None]:
    """mos_quality and the extra fields: the interval's own, or merged over the run's."""
    live = [i for i in intervals if i is not None]
    if len(live) > 1:
        return _merged_figures(live, consumer)
    one = live[0] if live else None
    out = {
        "mos_quality": one.mos if one else None,
        "packet_loss_pct": one.loss_pct if one else None,
        "bitrate_bps": one.bitrate_bps if one else None,
    }
    if consumer:
        out["jitter_buffer_delay_ms"] = one.jitter_buffer_delay_ms if one else None
    return out


def _merged_figures(live: list[Interval], consumer: bool) -> dict[str, float | None]:
    """Loss, bitrate and buffer delay from the summed deltas; MOS the mean of the scores."""
    packets = lost = nbytes = span_ms = delay = emitted = 0.0
    scores = []
    for i in live:
        if i.loss_pct is not None:
            packets += i.packets or 0
            lost += i.lost or 0
        if i.mos is not None:
            scores.append(i.mos)
        if i.bytes is not None:
            nbytes += i.bytes
            span_ms += i.end_ms - i.start_ms
        if i.buffer_delay_s is not None and i.buffer_emitted:
            delay += i.buffer_delay_s
            emitted += i.buffer_emitted
    loss_pct = loss_percent(packets, lost)
    out = {
        "mos_quality": mean(scores) if scores else None,
        "packet_loss_pct": None if loss_pct is None else finite(loss_pct),
        "bitrate_bps": finite(nbytes * 8000 / span_ms) if span_ms else None,
    }
    if consumer:
        out["jitter_buffer_delay_ms"] = per_emitted_ms(delay, emitted)
    return out


def _mean_of(values: Column) -> float | None:
    """A gauge over a run: its value for one sample, the mean of the known ones for many."""
    if len(values) == 1:
        return values[0]  # type: ignore[no-any-return]
    known = [v for v in values if v is not None]
    return mean(known) if known else None


def _text(value: Any) -> str | None:
    return value if type(value) is str else None


def _limitation(sample: dict[str, Any]) -> dict[str, Any]:
    reason = sample.get("quality_limitation_reason")
    durations = sample.get("quality_limitation_durations")
    return {
        "quality_limitation_reason": reason if reason in LIMITATION_REASONS else None,
        "quality_limitation_durations": (
            {k: v for k in _DURATIONS if (v := number(durations.get(k))) is not None}
            if isinstance(durations, dict)
            else None
        ),
    }
