"""The E-model MOS (quality/mos.py) on hand-computed cases.

Every case follows the same arithmetic, written out next to it:
d = rtt/2 + 2·jitter + 10 (ms); Id = 0.024·d + 0.11·(d - 177.3) for d > 177.3;
Ie_eff = 95 · Ppl / (Ppl + 25.1); R = 93.2 - Id - Ie_eff;
MOS = 1 + 0.035·R + 7e-6·R·(R - 60)·(100 - R).
"""

from __future__ import annotations

import math

import pytest

from rtk_sessions.quality.mos import mos_audio, mos_video, r_to_mos, transmission_rating


def test_perfect_network_scores_about_4_4() -> None:
    # d = 0 + 0 + 10 = 10; Id = 0.24; Ie_eff = 0; R = 92.96
    # MOS = 1 + 3.2536 + 7e-6 · 92.96 · 32.96 · 7.04 (= 0.150992) = 4.404592
    mos = mos_audio(rtt_ms=0, jitter_ms=0, loss_pct=0)
    assert mos == pytest.approx(4.404592, abs=1e-6)
    assert mos is not None and mos <= 4.5


def test_five_percent_loss() -> None:
    # Ie_eff = 95 · 5 / 30.1 = 15.780731; R = 93.2 - 0.24 - 15.780731 = 77.179269
    # MOS = 1 + 2.701274 + 7e-6 · 77.179269 · 17.179269 · 22.820731 (= 0.211803) = 3.913078
    assert mos_audio(rtt_ms=0, jitter_ms=0, loss_pct=5) == pytest.approx(3.913078, abs=1e-6)


def test_300_ms_round_trip() -> None:
    # d = 150 + 0 + 10 = 160 (below the 177.3 knee); Id = 3.84; R = 89.36
    # MOS = 1 + 3.1276 + 7e-6 · 89.36 · 29.36 · 10.64 (= 0.195406) = 4.323006
    assert mos_audio(rtt_ms=300, jitter_ms=0, loss_pct=0) == pytest.approx(4.323006, abs=1e-6)


def test_400_ms_round_trip_crosses_the_knee() -> None:
    # d = 200 + 10 = 210; Id = 5.04 + 0.11 · 32.7 = 8.637; R = 84.563
    # MOS = 1 + 2.959705 + 7e-6 · 84.563 · 24.563 · 15.437 (= 0.224452) = 4.184157
    assert mos_audio(rtt_ms=400, jitter_ms=0, loss_pct=0) == pytest.approx(4.184157, abs=1e-6)


def test_50_ms_jitter() -> None:
    # d = 0 + 100 + 10 = 110; Id = 2.64; R = 90.56
    # MOS = 1 + 3.1696 + 7e-6 · 90.56 · 30.56 · 9.44 (= 0.182877) = 4.352477
    assert mos_audio(rtt_ms=0, jitter_ms=50, loss_pct=0) == pytest.approx(4.352477, abs=1e-6)


def test_total_loss_stays_above_one() -> None:
    # Ie_eff = 95 · 100 / 125.1 = 75.939249; R = 17.020751
    # MOS = 1 + 0.595726 - 0.424918 = 1.170808
    assert mos_audio(rtt_ms=0, jitter_ms=0, loss_pct=100) == pytest.approx(1.170808, abs=1e-6)


def test_no_packets_gives_none_not_one() -> None:
    assert mos_audio(rtt_ms=20, jitter_ms=3, loss_pct=None) is None
    assert mos_video(rtt_ms=20, jitter_ms=3, loss_pct=None) is None
    assert mos_audio(rtt_ms=20, jitter_ms=3, loss_pct=math.nan) is None


def test_missing_delays_add_no_impairment() -> None:
    perfect = mos_audio(rtt_ms=0, jitter_ms=0, loss_pct=0)
    assert mos_audio(rtt_ms=None, jitter_ms=None, loss_pct=0) == perfect
    assert mos_audio(rtt_ms=math.inf, jitter_ms=math.nan, loss_pct=0) == perfect
    assert mos_audio(rtt_ms=-5, jitter_ms=-1, loss_pct=0) == perfect


def test_clamps() -> None:
    # A 20 s round trip: d = 10,010, Id ≈ 1,321.8, R < 0 → 1
    assert mos_audio(rtt_ms=20_000, jitter_ms=0, loss_pct=0) == 1.0
    assert mos_audio(rtt_ms=1e308, jitter_ms=1e308, loss_pct=100) == 1.0
    # Loss outside 0..100 is clamped to it
    assert mos_audio(rtt_ms=0, jitter_ms=0, loss_pct=250) == mos_audio(
        rtt_ms=0, jitter_ms=0, loss_pct=100
    )
    assert mos_audio(rtt_ms=0, jitter_ms=0, loss_pct=-3) == mos_audio(
        rtt_ms=0, jitter_ms=0, loss_pct=0
    )
    # The R → MOS map: 1 at and below 0, 4.5 at and above 100, never below 1 in between
    # (at R = 5 the cubic gives 1 + 0.175 - 0.182875 = 0.992125)
    assert r_to_mos(-10) == 1.0
    assert r_to_mos(5) == 1.0
    assert r_to_mos(100) == 4.5
    assert r_to_mos(150) == 4.5
    assert max(r_to_mos(r / 10) for r in range(0, 1001)) <= 4.5


def test_rating_matches_the_formula() -> None:
    # rtt 100, jitter 20, loss 1: d = 50 + 40 + 10 = 100; Id = 2.4;
    # Ie_eff = 95 / 26.1 = 3.639847; R = 93.2 - 2.4 - 3.639847 = 87.160153
    assert transmission_rating(100, 20, 1) == pytest.approx(87.160153, abs=1e-6)


def test_video_uses_the_network_score() -> None:
    for rtt, jitter, loss in [(0, 0, 0), (120, 15, 2.5), (800, 80, 40)]:
        assert mos_video(rtt_ms=rtt, jitter_ms=jitter, loss_pct=loss) == mos_audio(
            rtt_ms=rtt, jitter_ms=jitter, loss_pct=loss
        )
