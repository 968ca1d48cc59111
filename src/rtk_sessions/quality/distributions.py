"""Section cumulatives: distributions over a section's intervals (decisions, "Peer reports").

Every figure is unweighted over the intervals that carried packets (a muted microphone says
nothing about the network); thresholds are inclusive; percentiles interpolate linearly
between closest ranks (numpy's default). A figure with no input is left out, so a section
nobody used is `{}`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from rtk_sessions.quality.intervals import Interval

LOSS_THRESHOLDS_PCT = (5, 10, 25, 50)
LATENCY_THRESHOLDS_MS = (100, 250, 500)
POOR_RESOLUTION_HEIGHT = 360
LAG_FPS = 15
HIGH_FEEDBACK_RATIO = 0.01


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean; sums that overflow are taken term by term instead."""
    total = sum(values)
    if math.isfinite(total):
        return total / len(values)
    n = len(values)
    return sum(v / n for v in values)


def percentile(ordered: Sequence[float], p: float) -> float:
    """Linear interpolation at rank p/100 · (n - 1) of an ascending, non-empty sequence."""
    rank = p / 100 * (len(ordered) - 1)
    lo = int(rank)
    if lo + 1 >= len(ordered):
        return ordered[-1]
    low, high = ordered[lo], ordered[lo + 1]
    return low + (high - low) * (rank - lo)


def dist(values: Iterable[float]) -> dict[str, float]:
    """`{avg, p50, p75, p90}`, or `{}` for no values."""
    ordered = sorted(values)
    if not ordered:
        return {}
    return {
        "avg": mean(ordered),
        "p50": percentile(ordered, 50),
        "p75": percentile(ordered, 75),
        "p90": percentile(ordered, 90),
    }


def at_least_fraction(values: Sequence[float], threshold: float) -> float:
    return sum(1 for v in values if v >= threshold) / len(values)


def packet_loss(values_pct: Sequence[float]) -> dict[str, float]:
    """`{avg, 5_or_greater_event_fraction, ...}` over interval loss percentages."""
    if not values_pct:
        return {}
    out = {"avg": mean(values_pct)}
    for t in LOSS_THRESHOLDS_PCT:
        out[f"{t}_or_greater_event_fraction"] = at_least_fraction(values_pct, t)
    return out


def latency(values_ms: Sequence[float]) -> dict[str, float]:
    """`{avg, 100ms_or_greater_event_fraction, ...}` over interval latencies in ms."""
    if not values_ms:
        return {}
    out = {"avg": mean(values_ms)}
    for t in LATENCY_THRESHOLDS_MS:
        out[f"{t}ms_or_greater_event_fraction"] = at_least_fraction(values_ms, t)
    return out


def flag_fraction(flags: Iterable[bool | None]) -> float | None:
    """Share of True among the known (non-None) flags, None when none is known."""
    known = hit = 0
    for flag in flags:
        if flag is not None:
            known += 1
            hit += flag
    return hit / known if known else None


def ratio(part: float, whole: float) -> float | None:
    """part / whole within [0, 1], None when whole is zero (or the sums overflowed)."""
    if not whole > 0:
        return None
    value = part / whole
    return min(1.0, value) if math.isfinite(value) else None


def cumulative(intervals: Iterable[Interval], *, video: bool, producer: bool) -> dict[str, Any]:
    """A section's `*_cumulative` object from every interval of its streams."""
    live = [i for i in intervals if i.loss_pct is not None]
    out: dict[str, Any] = {
        "quality_mos": dist(i.mos for i in live if i.mos is not None),
        "packet_loss": packet_loss([i.loss_pct for i in live if i.loss_pct is not None]),
    }
    if producer:
        out["rtt"] = latency([i.rtt_ms for i in live if i.rtt_ms is not None])
    else:
        delays = [d for d in (i.jitter_buffer_delay_ms for i in live) if d is not None]
        out["jitter_buffer_delay"] = latency(delays)
    if video:
        out.update(_video(live, producer))
    return {k: v for k, v in out.items() if v is not None and v != {}}


def _video(live: Sequence[Interval], producer: bool) -> dict[str, Any]:
    keys = sum(i.key_frames for i in live if i.key_frames is not None and i.frames is not None)
    frames = sum(i.frames for i in live if i.key_frames is not None and i.frames is not None)
    out: dict[str, Any] = {
        "frame_per_second": dist(i.fps for i in live if i.fps is not None),
        "frame_width": dist(i.frame_width for i in live if i.frame_width is not None),
        f"key_frames_{'encoded' if producer else 'decoded'}_fraction": ratio(keys, frames),
        "issues": _issues(live, producer),
    }
    if producer:
        out["high_negative_feedback_fraction"] = flag_fraction(map(_high_feedback, live))
    return out


def _high_feedback(i: Interval) -> bool | None:
    """(Δnack + Δpli + Δfir) / Δpackets ≥ 1 %, None when unknown."""
    counts = [c for c in (i.nack, i.pli, i.fir) if c is not None]
    if not counts or not i.packets:
        return None
    return sum(counts) >= HIGH_FEEDBACK_RATIO * i.packets


def _issues(live: Sequence[Interval], producer: bool) -> dict[str, float]:
    """no_video = no frames; poor_resolution = height < 360; lag = fps < 15; quality
    limitation = a reason other than `none` (and its cpu and bandwidth shares)."""
    reasons = [i.quality_limitation_reason for i in live]
    issues = {
        "no_video_fraction": flag_fraction(
            None if i.frames is None else i.frames == 0 for i in live
        ),
        "poor_resolution_fraction": flag_fraction(
            None if i.frame_height is None else i.frame_height < POOR_RESOLUTION_HEIGHT
            for i in live
        ),
    }
    if producer:
        issues["quality_limitation_fraction"] = flag_fraction(_is(r, None) for r in reasons)
        issues["cpu_quality_limitation_fraction"] = flag_fraction(_is(r, "cpu") for r in reasons)
        issues["bandwidth_quality_limitation_fraction"] = flag_fraction(
            _is(r, "bandwidth") for r in reasons
        )
    else:
        issues["lag_fraction"] = flag_fraction(
            None if i.fps is None else i.fps < LAG_FPS for i in live
        )
    return {k: v for k, v in issues.items() if v is not None}


def _is(reason: str | None, wanted: str | None) -> bool | None:
    """Whether a known reason is `wanted` (None: any limitation, i.e. not `none`)."""
    if reason is None:
        return None
    return reason != "none" if wanted is None else reason == wanted
