"""Per-interval figures (quality/intervals.py) on hand-made streams, and properties on
arbitrary ones. Times are seconds after T0 unless stated; expected figures are worked out
in the comments."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtk_sessions.quality.intervals import Interval, number, stream_intervals

T0 = 1_780_000_000_000


def audio_in(t: float, **counters: Any) -> dict[str, Any]:
    return {"timestamp_ms": T0 + int(t * 1000), "kind": "audio", "direction": "inbound",
            "ssrc": 11, **counters}  # fmt: skip


def video_out(t: float, **counters: Any) -> dict[str, Any]:
    return {"timestamp_ms": T0 + int(t * 1000), "kind": "video", "direction": "outbound",
            "ssrc": 22, **counters}  # fmt: skip


def only(intervals: list[Interval | None], index: int) -> Interval:
    interval = intervals[index]
    assert interval is not None
    return interval


def test_audio_consumer_loss_bitrate_and_jitter_buffer() -> None:
    samples = [
        audio_in(0, packets_received=1000, packets_lost=10, bytes_received=80_000,
                 jitter_buffer_delay=960.0, jitter_buffer_emitted_count=48_000, jitter=0.004),
        # +2 s: 95 received, 5 lost, 10,000 bytes; 96,000 samples emitted that waited
        # 3,840 s in total (40 ms each)
        audio_in(2, packets_received=1095, packets_lost=15, bytes_received=90_000,
                 jitter_buffer_delay=4800.0, jitter_buffer_emitted_count=144_000,
                 jitter=0.012, round_trip_time=0.1),
    ]  # fmt: skip
    first, second = stream_intervals(samples)
    assert first is None  # nothing to pair the first sample with
    assert second is not None
    assert (second.start_ms, second.end_ms) == (T0, T0 + 2000)
    assert (second.packets, second.lost) == (95, 5)
    assert second.loss_pct == pytest.approx(5.0)  # 5 / (5 + 95) · 100
    assert second.bitrate_bps == pytest.approx(40_000)  # 10,000 B · 8 / 2 s
    assert second.jitter_buffer_delay_ms == pytest.approx(40.0)  # 3,840 s / 96,000 · 1000
    assert second.jitter_ms == pytest.approx(12.0)  # the end sample's value, in ms
    assert second.rtt_ms == pytest.approx(100.0)
    # d = 50 + 24 + 10 = 84; Id = 2.016; Ie_eff = 95 · 5 / 30.1 = 15.780731;
    # R = 75.403269; MOS = 1 + 2.639114 + 7e-6 · 75.403269 · 15.403269 · 24.596731 = 3.839090
    assert second.mos == pytest.approx(3.839090, abs=1e-6)
    assert second.fps is None and second.frames is None  # audio has no video figures


def test_video_producer_frames_and_feedback() -> None:
    samples = [
        video_out(0, packets_sent=0, bytes_sent=0, frames_encoded=0, key_frames_encoded=0,
                  nack_count=0, pli_count=0, fir_count=0),
        video_out(1, packets_sent=120, bytes_sent=150_000, frames_encoded=30,
                  key_frames_encoded=1, nack_count=2, pli_count=1, fir_count=0,
                  frames_per_second=30, frame_width=1280, frame_height=720,
                  quality_limitation_reason="bandwidth", round_trip_time=0.05),
    ]  # fmt: skip
    interval = only(stream_intervals(samples), 1)
    assert (interval.frames, interval.key_frames) == (30, 1)
    assert (interval.nack, interval.pli, interval.fir) == (2, 1, 0)
    assert interval.loss_pct == 0.0  # no packets_lost reported: none lost
    assert interval.bitrate_bps == pytest.approx(1_200_000)  # 150,000 B · 8 / 1 s
    assert (interval.fps, interval.frame_width, interval.frame_height) == (30, 1280, 720)
    assert interval.quality_limitation_reason == "bandwidth"
    assert interval.jitter_buffer_delay_ms is None  # outbound: no jitter buffer


def test_two_streams_side_by_side_do_not_mix() -> None:
    audio = [audio_in(t, packets_received=50 * t, bytes_received=4000 * t) for t in range(4)]
    video = [video_out(t, packets_sent=100 * t, bytes_sent=100_000 * t) for t in range(4)]
    for stream, rate in ((audio, 32_000), (video, 800_000)):
        intervals = stream_intervals(stream)
        assert intervals[0] is None
        assert [i.bitrate_bps for i in intervals if i] == [rate] * 3


def test_counter_going_backwards_starts_a_new_baseline() -> None:
    samples = [
        audio_in(0, packets_received=500, bytes_received=40_000),
        audio_in(1, packets_received=550, bytes_received=44_000),
        audio_in(2, packets_received=20, bytes_received=1_600),  # restarted
        audio_in(3, packets_received=70, bytes_received=5_600),
    ]
    intervals = stream_intervals(samples)
    assert intervals[2] is None  # the restart only sets the new baseline
    assert only(intervals, 1).packets == 50
    assert only(intervals, 3).packets == 50  # 70 - 20, not 70 - 550
    assert only(intervals, 3).bitrate_bps == pytest.approx(32_000)  # 4,000 B · 8 / 1 s


def test_any_counter_going_backwards_resets() -> None:
    samples = [
        audio_in(0, packets_received=100, packets_lost=9),
        audio_in(1, packets_received=150, packets_lost=3),  # lost went back: restart
        audio_in(2, packets_received=200, packets_lost=3),
    ]
    intervals = stream_intervals(samples)
    assert intervals[1] is None
    assert only(intervals, 2).loss_pct == 0.0


def test_duplicate_timestamp_is_skipped_without_division_by_zero() -> None:
    samples = [
        audio_in(0, packets_received=0, bytes_received=0),
        audio_in(1, packets_received=50, bytes_received=4000),
        audio_in(1, packets_received=60, bytes_received=4800),  # same instant
        audio_in(2, packets_received=100, bytes_received=8000),
    ]
    intervals = stream_intervals(samples)
    assert intervals[2] is None
    # The earlier baseline (t = 1 s, 50 packets) is kept: 100 - 50 over 1 s
    assert only(intervals, 3).packets == 50
    assert only(intervals, 3).bitrate_bps == pytest.approx(32_000)


def test_no_packets_means_no_loss_and_no_mos() -> None:
    samples = [audio_in(t, packets_received=10, packets_lost=0, jitter=0.01) for t in range(3)]
    for interval in stream_intervals(samples)[1:]:
        assert interval is not None
        assert interval.loss_pct is None and interval.mos is None  # muted, not MOS 1


def test_gap_and_missing_counters() -> None:
    samples = [
        audio_in(0, packets_received=0, bytes_received=0),
        audio_in(600, packets_received=30_000, bytes_received=2_400_000),  # 10 minutes later
        audio_in(601, packets_received=30_050),  # bytes not reported
        audio_in(602),  # nothing reported
    ]
    intervals = stream_intervals(samples)
    assert only(intervals, 1).bitrate_bps == pytest.approx(32_000)  # 2.4 MB · 8 / 600 s
    assert only(intervals, 2).bitrate_bps is None
    assert only(intervals, 2).loss_pct == 0.0
    assert only(intervals, 3).packets is None and only(intervals, 3).loss_pct is None


def test_non_finite_inputs_are_missing() -> None:
    samples = [
        audio_in(0, packets_received=0, bytes_received=0, jitter=math.nan),
        audio_in(1, packets_received=50, bytes_received=math.inf, jitter=math.inf,
                 round_trip_time=-1.0, jitter_buffer_delay=True),
    ]  # fmt: skip
    interval = only(stream_intervals(samples), 1)
    assert interval.bitrate_bps is None and interval.bytes is None
    assert interval.jitter_ms is None and interval.rtt_ms is None
    assert interval.buffer_delay_s is None
    assert interval.mos is not None  # loss is known: the delays just add nothing


def test_number() -> None:
    assert number(5) == 5 and number(2.5) == 2.5 and number(2**53) == 2**53
    for bad in (None, True, "3", math.nan, math.inf, -1, -0.5, 2**1100, [1]):
        assert number(bad) is None


def test_empty_and_single() -> None:
    assert stream_intervals([]) == []
    assert stream_intervals([audio_in(0, packets_received=5)]) == [None]


# Properties ------------------------------------------------------------------------------

COUNTERS = ("packets_received", "packets_lost", "bytes_received", "jitter_buffer_delay",
            "jitter_buffer_emitted_count", "frames_decoded", "key_frames_decoded",
            "nack_count", "pli_count", "fir_count", "frames_dropped", "concealment_events")  # fmt: skip
GAUGES = ("jitter", "round_trip_time", "frames_per_second", "frame_width", "frame_height")
values = st.one_of(
    st.none(),
    st.integers(0, 2**53),
    st.floats(0, 2**53, allow_nan=False),
    st.sampled_from([0, 1, 2**53]),
)


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One stream: times with repeats and gaps, counters that rise, reset, vanish or jump."""
    kind = draw(st.sampled_from(["audio", "video"]))
    direction = draw(st.sampled_from(["inbound", "outbound"]))
    n = draw(st.integers(0, 25))
    steps = draw(st.lists(st.integers(0, 10**7), min_size=n, max_size=n))
    rising = draw(st.booleans())
    totals = dict.fromkeys(COUNTERS, 0)
    out, at = [], T0
    for step in steps:
        at += step
        sample: dict[str, Any] = {"timestamp_ms": at, "kind": kind, "direction": direction,
                                  "ssrc": 1}  # fmt: skip
        for name in (*COUNTERS, "packets_sent", "bytes_sent", "frames_encoded"):
            if rising:
                totals[name] = totals.get(name, 0) + draw(st.integers(0, 2**40))
                sample[name] = totals[name]
            elif (value := draw(values)) is not None:
                sample[name] = value
        for name in GAUGES:
            if (value := draw(values)) is not None:
                sample[name] = value
        out.append(sample)
    return out


def reference(samples: list[dict[str, Any]]) -> list[tuple[int, int] | None]:
    """The baseline rule written the plain way, sample by sample: (start, end) indexes."""
    names = used(samples[0]) if samples else set()
    pairs: list[tuple[int, int] | None] = [None] * len(samples)
    base = 0
    for i in range(1, len(samples)):
        a, b = samples[base], samples[i]
        known = [n for n in names if number(a.get(n)) is not None and number(b.get(n)) is not None]
        if any(b[n] < a[n] for n in known):
            base = i
        elif b["timestamp_ms"] > a["timestamp_ms"]:
            pairs[i] = (base, i)
            base = i
    return pairs


def used(sample: dict[str, Any]) -> set[str]:
    """The counters a stream of this kind and direction is read for."""
    inbound, video = sample["direction"] == "inbound", sample["kind"] == "video"
    names = {"packets_lost"}
    if inbound:
        names |= {"packets_received", "bytes_received", "jitter_buffer_delay",
                  "jitter_buffer_emitted_count"}  # fmt: skip
        names |= {"frames_decoded", "key_frames_decoded", "frames_dropped"} if video else set()
        names |= set() if video else {"concealment_events"}
    else:
        names |= {"packets_sent", "bytes_sent"}
        names |= (
            {"frames_encoded", "key_frames_encoded", "quality_limitation_resolution_changes"}
            if video
            else set()
        )
    if video:
        names |= {"nack_count", "pli_count", "fir_count"}
    return names


@settings(max_examples=300, deadline=None)
@given(streams())
def test_intervals_are_sane_for_any_stream(samples: list[dict[str, Any]]) -> None:
    intervals = stream_intervals(samples)
    assert len(intervals) == len(samples)
    for interval in intervals:
        if interval is None:
            continue
        assert interval.end_ms > interval.start_ms
        for name in (*Interval.__dataclass_fields__, "bitrate_bps", "jitter_buffer_delay_ms"):
            value = getattr(interval, name)
            if isinstance(value, int | float):
                assert math.isfinite(value), name
                assert value >= 0, name
        if interval.loss_pct is not None:
            assert 0 <= interval.loss_pct <= 100
        if interval.mos is not None:
            assert 1 <= interval.mos <= 4.5
        else:
            assert interval.loss_pct is None  # a score is missing only without packets


@settings(max_examples=300, deadline=None)
@given(streams())
def test_baselines_follow_the_plain_rule(samples: list[dict[str, Any]]) -> None:
    got = [None if i is None else (i.start_ms, i.end_ms) for i in stream_intervals(samples)]
    want = [
        None if p is None else (samples[p[0]]["timestamp_ms"], samples[p[1]]["timestamp_ms"])
        for p in reference(samples)
    ]
    assert got == want
