"""The peer report's `quality` object (quality/report.py, quality/distributions.py): hand-made
samples with figures worked out in the comments, properties on arbitrary samples, and the
official SDK's response model as the judge of field names and types."""

from __future__ import annotations

import math
from typing import Any

import pydantic
import pytest
from cloudflare._models import validate_type
from cloudflare.types.realtime_kit.session_get_participant_data_from_peer_id_response import (
    SessionGetParticipantDataFromPeerIDResponse,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from rtk_sessions.quality.distributions import (
    cumulative,
    dist,
    flag_fraction,
    latency,
    mean,
    packet_loss,
    percentile,
)
from rtk_sessions.quality.intervals import stream_intervals
from rtk_sessions.quality.report import SECTIONS, build_quality, shares

T0 = 1_780_000_000_000  # 2026-05-28T20:26:40.000Z
KEYS = {*SECTIONS, *(f"{s}_cumulative" for s in SECTIONS)}
EXTRAS = {"packet_loss_pct", "bitrate_bps", "jitter_buffer_delay_ms"}


def sample(t: float, kind: str, direction: str, ssrc: int, **fields: Any) -> dict[str, Any]:
    return {"timestamp_ms": T0 + int(t * 1000), "kind": kind, "direction": direction,
            "ssrc": ssrc, **fields}  # fmt: skip


# Distributions ---------------------------------------------------------------------------


def test_dist_interpolates_linearly() -> None:
    # ranks p/100 · 3: p50 → 1.5 → 2 + 0.5 · 1 = 2.5; p75 → 2.25 → 3.25; p90 → 2.7 → 3.7
    assert dist([4, 2, 1, 3]) == pytest.approx({"avg": 2.5, "p50": 2.5, "p75": 3.25, "p90": 3.7})
    assert dist([7.0]) == {"avg": 7.0, "p50": 7.0, "p75": 7.0, "p90": 7.0}
    assert dist([]) == {}
    # [10, 20, 30, 40, 50]: p90 at rank 3.6 → 40 + 0.6 · 10 = 46
    assert percentile([10, 20, 30, 40, 50], 90) == pytest.approx(46)


def test_packet_loss_thresholds_are_inclusive() -> None:
    values = [0, 5, 10, 24.9, 50]  # avg = 89.9 / 5 = 17.98
    assert packet_loss(values) == pytest.approx(
        {
            "avg": 17.98,
            "5_or_greater_event_fraction": 0.8,  # 5, 10, 24.9, 50
            "10_or_greater_event_fraction": 0.6,  # 10, 24.9, 50
            "25_or_greater_event_fraction": 0.2,  # 50
            "50_or_greater_event_fraction": 0.2,  # exactly 50 counts
        }
    )
    assert packet_loss([]) == {}


def test_latency_thresholds_are_inclusive() -> None:
    assert latency([99.9, 100, 250, 500]) == pytest.approx(
        {
            "avg": 237.475,  # 949.9 / 4
            "100ms_or_greater_event_fraction": 0.75,
            "250ms_or_greater_event_fraction": 0.5,
            "500ms_or_greater_event_fraction": 0.25,
        }
    )


def test_mean_survives_overflowing_sums_and_fractions_ignore_unknowns() -> None:
    assert mean([1e308, 1e308]) == pytest.approx(1e308)
    assert flag_fraction([True, None, False, True]) == pytest.approx(2 / 3)
    assert flag_fraction([None]) is None


def test_video_producer_cumulative() -> None:
    def out(t: int, **f: Any) -> dict[str, Any]:
        return sample(t, "video", "outbound", 5, **f)

    samples = [
        out(0, packets_sent=0, frames_encoded=0, key_frames_encoded=0, nack_count=0),
        # 100 packets, 30 frames (3 key), 1 nack: 1 % → high feedback; 720p, no limit
        out(1, packets_sent=100, frames_encoded=30, key_frames_encoded=3, nack_count=1,
            frame_height=720, frame_width=1280, frames_per_second=30,
            quality_limitation_reason="none"),
        # 100 packets, 10 frames (0 key), no nack; 240p at 10 fps, cpu-limited
        out(2, packets_sent=200, frames_encoded=40, key_frames_encoded=3, nack_count=1,
            frame_height=240, frame_width=320, frames_per_second=10,
            quality_limitation_reason="cpu"),
        # 100 packets, no frames at all, bandwidth-limited
        out(3, packets_sent=300, frames_encoded=40, key_frames_encoded=3, nack_count=1,
            frame_height=240, frame_width=320, frames_per_second=0,
            quality_limitation_reason="bandwidth"),
        # no packets: muted, left out of every figure
        out(4, packets_sent=300, frames_encoded=40, key_frames_encoded=3, nack_count=1,
            frame_height=240, frame_width=320, frames_per_second=0,
            quality_limitation_reason="bandwidth"),
    ]  # fmt: skip
    got = cumulative((i for i in stream_intervals(samples) if i), video=True, producer=True)
    assert got["packet_loss"]["avg"] == 0
    assert got["key_frames_encoded_fraction"] == pytest.approx(0.075)  # 3 / 40
    assert got["high_negative_feedback_fraction"] == pytest.approx(1 / 3)
    assert got["frame_width"] == pytest.approx(dist([1280, 320, 320]))
    assert got["frame_per_second"]["avg"] == pytest.approx(40 / 3)
    assert got["issues"] == pytest.approx(
        {
            "no_video_fraction": 1 / 3,
            "poor_resolution_fraction": 2 / 3,
            "quality_limitation_fraction": 2 / 3,
            "cpu_quality_limitation_fraction": 1 / 3,
            "bandwidth_quality_limitation_fraction": 1 / 3,
        }
    )
    assert "rtt" not in got  # no RTT reported: the figure is left out, not zero


def test_video_consumer_issues_and_jitter_buffer() -> None:
    def inb(t: int, **f: Any) -> dict[str, Any]:
        return sample(t, "video", "inbound", 6, **f)

    samples = [
        inb(0, packets_received=0, frames_decoded=0, jitter_buffer_delay=0.0,
            jitter_buffer_emitted_count=0),
        # 30 frames waited 1.5 s in all: 50 ms each; 14 fps → lag
        inb(1, packets_received=90, frames_decoded=30, jitter_buffer_delay=1.5,
            jitter_buffer_emitted_count=30, frames_per_second=14, frame_height=360),
        # 30 frames, 9 s: 300 ms each; 15 fps is not lag; 360 is not poor
        inb(2, packets_received=180, frames_decoded=60, jitter_buffer_delay=10.5,
            jitter_buffer_emitted_count=60, frames_per_second=15, frame_height=360),
    ]  # fmt: skip
    got = cumulative((i for i in stream_intervals(samples) if i), video=True, producer=False)
    assert got["jitter_buffer_delay"] == pytest.approx(
        {
            "avg": 175.0,
            "100ms_or_greater_event_fraction": 0.5,
            "250ms_or_greater_event_fraction": 0.5,
            "500ms_or_greater_event_fraction": 0.0,
        }
    )
    assert got["issues"] == {
        "no_video_fraction": 0,
        "poor_resolution_fraction": 0,
        "lag_fraction": 0.5,
    }
    assert "high_negative_feedback_fraction" not in got


# The report ------------------------------------------------------------------------------


def test_empty_report_has_all_sixteen_keys() -> None:
    quality = build_quality([])
    assert set(quality) == KEYS
    assert all(quality[s] == [] and quality[f"{s}_cumulative"] == {} for s in SECTIONS)


def test_entries_are_samples_as_received_with_interval_figures() -> None:
    def mic(t: int, **f: Any) -> dict[str, Any]:
        return sample(t, "audio", "outbound", 7, pc_id="pc", mid="0", producer_id="p1",
                      source="microphone", timestamp="ignored", **f)  # fmt: skip

    quality = build_quality(
        [
            mic(1, packets_sent=150, packets_lost=0, bytes_sent=15_000, round_trip_time=0.2,
                jitter=0.01),
            mic(0, packets_sent=100, packets_lost=0, bytes_sent=10_000, round_trip_time=0.1,
                jitter=0.005),
        ]  # out of order on purpose
    )  # fmt: skip
    first, second = quality["audio_producer"]
    assert first == {
        "bytes_sent": 10_000, "packets_lost": 0, "packets_sent": 100, "mid": "0",
        "producer_id": "p1", "ssrc": 7, "timestamp": "2026-05-28T20:26:40.000Z",
        "jitter": 0.005, "rtt": 0.1, "mos_quality": None, "packet_loss_pct": None,
        "bitrate_bps": None,
    }  # fmt: skip
    assert second["timestamp"] == "2026-05-28T20:26:41.000Z"
    assert (second["rtt"], second["jitter"]) == (0.2, 0.01)  # seconds, as received
    assert second["packet_loss_pct"] == 0.0
    assert second["bitrate_bps"] == pytest.approx(40_000)  # 5,000 B · 8 / 1 s
    # d = 100 + 20 + 10 = 130; Id = 3.12; R = 90.08;
    # MOS = 1 + 3.1528 + 7e-6 · 90.08 · 30.08 · 9.92 (= 0.188155) = 4.340955
    assert second["mos_quality"] == pytest.approx(4.340955, abs=1e-6)
    assert quality["audio_producer_cumulative"]["rtt"]["avg"] == pytest.approx(200)  # ms


def test_sections_by_kind_direction_and_source() -> None:
    samples = [
        sample(t, kind, direction, ssrc, source=source, remote_peer_id="them",
               consumer_id="c", packets_received=t * 10, packets_sent=t * 10)
        for t in range(2)
        for ssrc, (kind, direction, source) in enumerate([
            ("audio", "outbound", "microphone"), ("video", "inbound", "camera"),
            ("video", "outbound", "screenshare"), ("audio", "inbound", "screenshare"),
            ("audio", "inbound", None),
        ])
    ]  # fmt: skip
    quality = build_quality(samples)
    counts = {name: len(quality[name]) for name in SECTIONS}
    assert counts == {
        "audio_producer": 2, "audio_consumer": 2, "video_producer": 0, "video_consumer": 2,
        "screenshare_audio_producer": 0, "screenshare_audio_consumer": 2,
        "screenshare_video_producer": 2, "screenshare_video_consumer": 0,
    }  # fmt: skip
    consumer = quality["video_consumer"][1]
    assert (consumer["peer_id"], consumer["consumer_id"]) == ("them", "c")
    assert "peer_id" not in quality["audio_producer"][0]
    assert quality["screenshare_video_producer_cumulative"]["packet_loss"]["avg"] == 0


def test_streams_are_keyed_by_connection_direction_and_ssrc() -> None:
    # The same ssrc on two peer connections is two streams: no delta across them
    samples = [
        sample(0, "audio", "inbound", 9, pc_id="a", packets_received=1000),
        sample(0, "audio", "inbound", 9, pc_id="b", packets_received=10),
        sample(1, "audio", "inbound", 9, pc_id="a", packets_received=1050),
        sample(1, "audio", "inbound", 9, pc_id="b", packets_received=60),
    ]
    entries = build_quality(samples)["audio_consumer"]
    assert [e["packets_received"] for e in entries] == [1000, 10, 1050, 60]
    assert [e["packet_loss_pct"] for e in entries] == [None, None, 0.0, 0.0]


def consumer_stream(n: int, ssrc: int = 1) -> list[dict[str, Any]]:
    """n samples 1 s apart: 100 packets and 1,000 bytes a second; every second interval loses
    10 packets; 4,800 samples a second played out after 20 ms each (jitter 4 ms)."""
    out, received, lost = [], 0, 0
    for t in range(n):
        lost += 10 if t % 2 == 0 and t else 0
        received += 100 if t else 0
        out.append(sample(t, "audio", "inbound", ssrc, packets_received=received,
                          packets_lost=lost, bytes_received=received * 10,
                          jitter_buffer_delay=t * 96.0, jitter_buffer_emitted_count=t * 4800,
                          jitter=0.004 + t / 1000))  # fmt: skip
    return out


def test_capped_list_merges_neighbouring_entries() -> None:
    full = build_quality(consumer_stream(10))
    capped = build_quality(consumer_stream(10), max_points=3)
    entries = capped["audio_consumer"]
    # ceil(10 / 3) = 4 samples per entry: [0..3], [4..7], [8..9]
    assert len(entries) == 3
    assert [e["timestamp"][17:23] for e in entries] == ["43.000", "47.000", "49.000"]
    second = entries[1]
    assert second["packets_received"] == 700 and second["packets_lost"] == 30  # sample 7's
    # Intervals ending at samples 4..7: 400 received, 20 lost → 20 / 420 · 100
    assert second["packet_loss_pct"] == pytest.approx(100 * 20 / 420)
    assert second["bitrate_bps"] == pytest.approx(8_000)  # 4,000 B · 8 / 4 s
    assert second["jitter_buffer_delay_ms"] == pytest.approx(20.0)  # 384 s / 19,200
    assert second["jitter"] == pytest.approx(0.004 + 0.0055)  # mean of 4..7 ms → s
    mos = [e["mos_quality"] for e in full["audio_consumer"][4:8]]
    assert second["mos_quality"] == pytest.approx(sum(mos) / 4)
    # The first run has a sample without an interval: its figures come from the other three
    assert entries[0]["mos_quality"] == pytest.approx(
        sum(e["mos_quality"] for e in full["audio_consumer"][1:4]) / 3
    )
    assert capped["audio_consumer_cumulative"] == full["audio_consumer_cumulative"]


def test_cap_is_shared_between_a_sections_streams() -> None:
    samples = consumer_stream(30, ssrc=1) + consumer_stream(10, ssrc=2)
    entries = build_quality(samples, max_points=8)["audio_consumer"]
    # Shares by length: 30 · 8 // 40 = 6 and 10 · 8 // 40 = 2 → runs of 5 samples each
    assert [e["ssrc"] for e in entries].count(1) == 6
    assert [e["ssrc"] for e in entries].count(2) == 2
    times = [e["timestamp"] for e in entries]
    assert times == sorted(times)
    assert shares([10, 1, 1], 3) == [1, 1, 1]
    assert shares([1] * 5, 3).count(1) == 3
    assert shares([3600, 3600], 720) == [360, 360]


def test_samples_that_cannot_be_placed_are_left_out() -> None:
    good = sample(0, "audio", "inbound", 1, packets_received=1)
    bad = [
        {**good, "timestamp_ms": "2026-05-28T20:26:40Z"},
        {**good, "ssrc": None},
        {**good, "kind": "data"},
        {**good, "direction": "sideways"},
    ]
    quality = build_quality([good, *bad])
    assert len(quality["audio_consumer"]) == 1


# Properties and the SDK ------------------------------------------------------------------

numbers = st.one_of(st.integers(0, 2**53), st.floats(0, 2**53, allow_nan=False), st.just(0))
FIELDS = ("packets_sent", "packets_received", "packets_lost", "bytes_sent", "bytes_received",
          "jitter", "round_trip_time", "jitter_buffer_delay", "jitter_buffer_emitted_count",
          "concealment_events", "frames_encoded", "frames_decoded", "frames_dropped",
          "key_frames_encoded", "key_frames_decoded", "fir_count", "pli_count", "nack_count",
          "frames_per_second", "frame_width", "frame_height",
          "quality_limitation_resolution_changes")  # fmt: skip
raw_samples = st.fixed_dictionaries(
    {
        "timestamp_ms": st.integers(T0, T0 + 10_000),
        "kind": st.sampled_from(["audio", "video"]),
        "direction": st.sampled_from(["inbound", "outbound"]),
        "ssrc": st.integers(0, 2),
    },
    optional={
        "source": st.sampled_from(["camera", "microphone", "screenshare"]),
        "pc_id": st.sampled_from(["", "pc1"]),
        "remote_peer_id": st.just("peer-x"),
        "quality_limitation_reason": st.sampled_from(["cpu", "bandwidth", "none", "other"]),
        "quality_limitation_durations": st.dictionaries(
            st.sampled_from(["cpu", "bandwidth", "none", "other"]), numbers
        ),
        **dict.fromkeys(FIELDS, numbers),
    },
)


def all_numbers_finite(value: Any) -> bool:
    if isinstance(value, dict):
        return all(all_numbers_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(all_numbers_finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


def sdk_check(quality: dict[str, Any]) -> Any:
    """Validate the whole response body with the SDK's model; no field may be unknown to it
    but the three documented extras of the per-sample entries."""
    body = {
        "success": True,
        "data": {
            "participant": {
                "id": "0195f4d0-0000-7000-8000-000000000001",
                "peer_report": {"metadata": {}, "quality": quality},
            }
        },
    }
    model = validate_type(type_=SessionGetParticipantDataFromPeerIDResponse, value=body)
    # pydantic's strict mode as well: no string for a number, no number for a string
    SessionGetParticipantDataFromPeerIDResponse.model_validate(body, strict=True)
    parsed = model.data.participant.peer_report.quality  # type: ignore[union-attr]
    for name in SECTIONS:
        for entry in getattr(parsed, name):
            assert set(entry.model_extra or {}) <= EXTRAS
        assert_no_extras(getattr(parsed, f"{name}_cumulative"))
    return parsed


def assert_no_extras(model: Any) -> None:
    if isinstance(model, pydantic.BaseModel):
        assert not model.model_extra, model.model_extra
        for name in type(model).model_fields:
            assert_no_extras(getattr(model, name))


@settings(max_examples=150, deadline=None)
@given(st.lists(raw_samples, max_size=60), st.integers(1, 20))
def test_any_samples_give_a_valid_finite_report(samples: list[dict[str, Any]], cap: int) -> None:
    quality = build_quality(samples, max_points=cap)
    assert set(quality) == KEYS
    assert all_numbers_finite(quality)
    for name in SECTIONS:
        assert len(quality[name]) <= cap
        for entry in quality[name]:
            mos, loss = entry["mos_quality"], entry["packet_loss_pct"]
            assert mos is None or 1 <= mos <= 4.5
            assert loss is None or 0 <= loss <= 100
        cum = quality[f"{name}_cumulative"]
        if "quality_mos" in cum:
            assert 1 <= cum["quality_mos"]["p50"] <= 4.5
    sdk_check(quality)


def full_stats(t: int) -> dict[str, Any]:
    """Every field a sample can carry, at second t: 5 % loss, 300 ms RTT, 200 ms buffer."""
    return {
        "remote_peer_id": "them", "packets_sent": 100 * t, "packets_received": 95 * t,
        "packets_lost": 5 * t, "bytes_sent": 1000 * t, "bytes_received": 950 * t,
        "round_trip_time": 0.3, "jitter": 0.01, "jitter_buffer_delay": 0.2 * t,
        "jitter_buffer_emitted_count": t, "frames_encoded": 30 * t, "frames_decoded": 30 * t,
        "key_frames_encoded": t, "key_frames_decoded": t, "frames_per_second": 30,
        "frame_width": 640, "frame_height": 360, "quality_limitation_reason": "none",
        "quality_limitation_durations": {"none": t, "cpu": 0},
    }  # fmt: skip


def test_sdk_model_reads_every_section_and_the_digit_first_keys() -> None:
    kinds = [("audio", "video"), ("inbound", "outbound"), ("camera", "screenshare")]
    streams = [(k, d, s) for k in kinds[0] for d in kinds[1] for s in kinds[2]]
    samples = [
        sample(t, kind, direction, ssrc, source=source, **full_stats(t))
        for t in range(4)
        for ssrc, (kind, direction, source) in enumerate(streams)
    ]
    quality = build_quality(samples)
    assert all(quality[name] and quality[f"{name}_cumulative"] for name in SECTIONS)
    parsed = sdk_check(quality)
    loss = parsed.audio_consumer_cumulative.packet_loss
    assert loss.api_5_or_greater_event_fraction == 1.0  # 5 / (5 + 95) = exactly 5 %
    assert loss.api_10_or_greater_event_fraction == 0.0
    rtt = parsed.video_producer_cumulative.rtt
    assert rtt.api_250ms_or_greater_event_fraction == 1.0  # 300 ms
    assert rtt.api_500ms_or_greater_event_fraction == 0.0
    jb = parsed.screenshare_audio_consumer_cumulative.jitter_buffer_delay
    assert jb.api_100ms_or_greater_event_fraction == 1.0  # 0.2 s per emitted = 200 ms
    assert parsed.video_consumer[1].peer_id == "them"
    assert parsed.video_producer[0].quality_limitation_durations.none == 0
    assert parsed.screenshare_video_producer_cumulative.issues.quality_limitation_fraction == 0
