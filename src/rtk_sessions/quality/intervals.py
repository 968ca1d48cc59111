"""Per-interval figures of one media stream, from consecutive getStats samples.

getStats counters are cumulative since the stream started; what a report shows (loss %,
bitrate, jitter-buffer delay, MOS) belongs to the interval between two samples. Each sample
is paired with its stream's previous one. A counter that goes backwards means the stream
restarted, so that sample only starts a new baseline and no delta is ever negative.

The work is done column by column (one list per field over the stream's samples): a report
covers tens of thousands of samples, and whole-list operations keep it within its time
budget. The common case (every counter present and rising, times strictly increasing) is
recognised up front; anything else takes the sample-by-sample baseline walk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from operator import gt, itemgetter, lt, sub
from typing import Any

from rtk_sessions.quality.mos import network_mos

# Integers beyond this are treated as missing: their deltas times 8000 (bits per second
# from bytes per millisecond) must still fit a float.
_INT_LIMIT = 2**1000
_NUMBER_TYPES = {int, float}
LIMITATION_REASONS = frozenset({"cpu", "bandwidth", "none", "other"})
Column = list[Any]
_TIME = itemgetter("timestamp_ms")

# The cumulative counters each kind of stream is read for (figure → sample field); all of
# them take part in detecting a restart.
_SENT = {"packets": "packets_sent", "lost": "packets_lost", "bytes": "bytes_sent"}
_RECEIVED = {
    "packets": "packets_received",
    "lost": "packets_lost",
    "bytes": "bytes_received",
    "buffer_delay_s": "jitter_buffer_delay",
    "buffer_emitted": "jitter_buffer_emitted_count",
}
_FEEDBACK = {"nack": "nack_count", "pli": "pli_count", "fir": "fir_count"}
COUNTERS: dict[tuple[str, str], dict[str, str]] = {
    ("audio", "outbound"): _SENT,
    ("audio", "inbound"): {**_RECEIVED, "concealment": "concealment_events"},
    ("video", "outbound"): {
        **_SENT, "frames": "frames_encoded", "key_frames": "key_frames_encoded", **_FEEDBACK,
        "resolution_changes": "quality_limitation_resolution_changes",
    },
    ("video", "inbound"): {
        **_RECEIVED, "frames": "frames_decoded", "key_frames": "key_frames_decoded",
        **_FEEDBACK, "dropped": "frames_dropped",
    },
}  # fmt: skip


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~50 ms per hour of 6 streams
class Interval:
    """What happened to one stream between two of its samples (deltas are never negative).
    Treated as immutable once built.

    `packets` counts packets sent (outbound) or received (inbound); `loss_pct` is None when
    the interval carried no packets at all, and so is `mos`. Gauges (jitter, RTT, frame rate
    and size, limitation reason) are the values reported at the interval's end.
    """

    start_ms: int
    end_ms: int
    packets: float | None
    lost: float | None
    loss_pct: float | None
    bytes: float | None
    buffer_delay_s: float | None
    buffer_emitted: float | None
    frames: float | None
    key_frames: float | None
    nack: float | None
    pli: float | None
    fir: float | None
    jitter_ms: float | None
    rtt_ms: float | None
    fps: float | None
    frame_width: float | None
    frame_height: float | None
    quality_limitation_reason: str | None
    mos: float | None

    @property
    def bitrate_bps(self) -> float | None:
        """Δbytes · 8 / Δt."""
        if self.bytes is None:
            return None
        return finite(self.bytes * 8000 / (self.end_ms - self.start_ms))

    @property
    def jitter_buffer_delay_ms(self) -> float | None:
        """Δjitter_buffer_delay / Δjitter_buffer_emitted_count, in ms."""
        return per_emitted_ms(self.buffer_delay_s, self.buffer_emitted)


def number(value: Any) -> float | None:
    """A finite, non-negative number as received (ints stay exact), or None: bools, NaN,
    ±inf, negatives and huge ints are not figures getStats reports."""
    cls = value.__class__
    if cls is int:
        return value if 0 <= value < _INT_LIMIT else None
    if cls is float:
        return value if 0.0 <= value < math.inf else None
    return None


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def stream_intervals(samples: Sequence[dict[str, Any]]) -> list[Interval | None]:
    """The interval ending at each sample of one stream (sorted by `timestamp_ms`), or None.

    None for the first sample, for a sample whose counters went backwards (it becomes the new
    baseline) and for a sample no later than its baseline (a zero-length interval; the earlier
    baseline is kept so the next interval still covers its packets).
    """
    if not samples:
        return []
    first = samples[0]
    video = first.get("kind") == "video"
    direction = "outbound" if first.get("direction") == "outbound" else "inbound"
    fields = COUNTERS["video" if video else "audio", direction]
    times: list[int] = list(map(_TIME, samples))
    counters = {figure: column(samples, name) for figure, name in fields.items()}
    reported = [col for col in counters.values() if col.count(None) < len(col)]
    bases = baselines(times, reported)
    consecutive = bases[1:] == list(range(len(bases) - 1))
    deltas = {figure: _deltas(col, bases, consecutive) for figure, col in counters.items()}
    none: Column = [None] * len(samples)
    d = [deltas.get(figure, none) for figure in _DELTA_ORDER]
    packets, lost, nbytes, delay, emitted = d[:5]
    starts = [None if b is None else times[b] for b in bases]
    loss = list(map(loss_percent, packets, lost))
    jitter = _scaled(column(samples, "jitter"))
    rtt = _scaled(column(samples, "round_trip_time"))
    video_figures = _video_gauges(samples) if video else [none] * 4
    intervals = map(
        Interval, starts, times, packets, lost, loss, nbytes, delay, emitted,
        *d[5:], jitter, rtt, *video_figures,
        map(network_mos, rtt, jitter, loss),  # audio and video share the model (mos_video)
    )  # fmt: skip
    return [None if b is None else i for b, i in zip(bases, intervals, strict=True)]


def _video_gauges(samples: Sequence[dict[str, Any]]) -> list[Column]:
    """Frame rate, width and height, and the limitation reason, as reported."""
    gauges = [column(samples, n) for n in ("frames_per_second", "frame_width", "frame_height")]
    gauges.append([_reason(s.get("quality_limitation_reason")) for s in samples])
    return gauges


_DELTA_ORDER = (
    "packets", "lost", "bytes", "buffer_delay_s", "buffer_emitted",
    "frames", "key_frames", "nack", "pli", "fir",
)  # fmt: skip


def column(samples: Sequence[dict[str, Any]], name: str) -> Column:
    """One field over the samples, each value a finite number or None (see `number`)."""
    try:  # C-level when every sample has the field, the usual case
        values: Column = list(map(itemgetter(name), samples))
    except KeyError:
        values = [s.get(name) for s in samples]
    types = set(map(type, values))
    if (  # checked wholesale first: the usual case
        types <= _NUMBER_TYPES
        and min(values) >= 0
        and max(values) < _INT_LIMIT
        and (float not in types or all(map(math.isfinite, values)))
    ):
        return values
    return [number(v) for v in values]


def _scaled(values: Column) -> Column:
    """Seconds to milliseconds."""
    if None not in values:
        scaled = [v * 1000 for v in values]
        if all(map(math.isfinite, scaled)):
            return scaled
    return [None if v is None else finite(v * 1000) for v in values]


def _reason(value: Any) -> str | None:
    return value if value in LIMITATION_REASONS else None


def baselines(times: Sequence[int], counters: Sequence[Column]) -> list[int | None]:
    """For each sample, the index of the sample its interval starts at, or None."""
    n = len(times)
    if all(map(lt, times, times[1:])) and all(_rising(col) for col in counters):
        return [None, *range(n - 1)]
    out: list[int | None] = [None]
    base = 0
    for i in range(1, n):
        if any(_went_back(col[base], col[i]) for col in counters):
            out.append(None)
            base = i
        elif times[i] <= times[base]:
            out.append(None)
        else:
            out.append(base)
            base = i
    return out


def _rising(col: Column) -> bool:
    """No value missing and none below its predecessor."""
    return None not in col and not any(map(gt, col, col[1:]))


def _went_back(before: float | None, after: float | None) -> bool:
    return before is not None and after is not None and after < before


def _deltas(col: Column, bases: list[int | None], consecutive: bool) -> Column:
    """Each sample's value minus its baseline's (None where either is unknown)."""
    if consecutive and None not in col:  # each baseline is the previous sample
        return [None, *map(sub, col[1:], col)]
    return [
        None if b is None or col[i] is None or col[b] is None else col[i] - col[b]
        for i, b in enumerate(bases)
    ]


def loss_percent(packets: float | None, lost: float | None) -> float | None:
    """Δlost / (Δlost + Δpackets) · 100; a stream that reports no `packets_lost` lost none."""
    if packets is None:
        return None
    lost = lost or 0
    total = packets + lost
    if not total > 0:
        return None
    if not math.isfinite(total):  # both near the float limit: halve before adding
        return lost / 2 / (packets / 2 + lost / 2) * 100
    return lost / total * 100


def per_emitted_ms(delay_s: float | None, emitted: float | None) -> float | None:
    """Average time a sample or frame waited in the jitter buffer during the interval."""
    if delay_s is None or not emitted:
        return None
    return finite(delay_s * 1000 / emitted)
