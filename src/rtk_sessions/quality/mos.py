"""MOS estimates from network figures: a simplified ITU-T G.107 E-model.

The transmission rating is

    R = 93.2 - Id(d) - Ie_eff(Ppl)

* 93.2 is G.107's rating with every parameter at its default (no impairment but the codec's
  own and the delay's).
* d is the effective one-way delay in ms: d = rtt/2 + 2·jitter + 10. Half the round trip is
  the one-way network delay; twice the jitter approximates the de-jitter buffer; 10 ms covers
  codec and processing. This is the widely used WebRTC convention (for example
  twilio-video.js `lib/preflight/mos.ts`), made one-way because G.107 rates mouth-to-ear delay.
* Id(d) = 0.024·d + 0.11·(d - 177.3)·H(d - 177.3), H the unit step: Cole and Rosenbluth's
  fit of G.107's delay impairment with default echo settings ("Voice over IP performance
  monitoring", ACM SIGCOMM CCR 31(2), 2001).
* Ie_eff(Ppl) = Ie + (95 - Ie) · Ppl / (Ppl + Bpl): G.107 §3.4 with BurstR = 1 (random loss),
  Ppl the packet loss in percent. ITU-T publishes no Ie/Bpl for Opus; we use the planning
  values of G.711 with packet-loss concealment, Ie = 0 and Bpl = 25.1 (ITU-T G.113 Appendix I,
  Table I.3). Opus also conceals loss (and may carry FEC), so this errs on the cautious side.

R maps to MOS by G.107 Annex B: MOS = 1 for R < 0, 4.5 for R > 100, otherwise
MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R - 60)·(100 - R); the result is clamped to [1, 4.5]. A perfect
network scores about 4.40.
"""

from __future__ import annotations

import math

R_DEFAULT = 93.2
CODEC_IE = 0.0
CODEC_BPL = 25.1
MOS_MIN = 1.0
MOS_MAX = 4.5


def transmission_rating(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    """R = 93.2 - Id(d) - Ie_eff(Ppl) for finite, non-negative inputs (loss at most 100)."""
    d = rtt_ms / 2 + 2 * jitter_ms + 10  # effective one-way delay
    delay = 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)  # Id, Cole & Rosenbluth
    loss = CODEC_IE + (95 - CODEC_IE) * loss_pct / (loss_pct + CODEC_BPL)  # Ie_eff, G.107
    return R_DEFAULT - delay - loss


def r_to_mos(r: float) -> float:
    """G.107 Annex B, clamped to [1, 4.5] (the cubic dips just below 1 for small R)."""
    if r <= 0:
        return MOS_MIN
    if r >= 100:
        return MOS_MAX
    mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)
    return mos if mos > MOS_MIN else MOS_MIN


def network_mos(
    rtt_ms: float | None, jitter_ms: float | None, loss_pct: float | None, /
) -> float | None:
    """MOS of one interval, or None when it carried no packets (`loss_pct` is None or NaN).

    A missing (or non-finite, or negative) RTT or jitter adds no delay impairment: consumers
    often report neither, and a score from loss alone is more useful than none. Without loss
    there is nothing to rate. Positional, so whole columns can be scored with `map`.
    """
    if loss_pct is None or loss_pct != loss_pct:
        return None
    loss = 0.0 if loss_pct < 0 else 100.0 if loss_pct > 100 else loss_pct
    # `0 < x < inf` is False for NaN too
    rtt = rtt_ms if rtt_ms is not None and 0 < rtt_ms < math.inf else 0.0
    jitter = jitter_ms if jitter_ms is not None and 0 < jitter_ms < math.inf else 0.0
    return r_to_mos(transmission_rating(rtt, jitter, loss))


def mos_audio(
    *, rtt_ms: float | None, jitter_ms: float | None, loss_pct: float | None
) -> float | None:
    """MOS of an audio interval (see `network_mos`)."""
    return network_mos(rtt_ms, jitter_ms, loss_pct)


def mos_video(
    *, rtt_ms: float | None, jitter_ms: float | None, loss_pct: float | None
) -> float | None:
    """The network score of a video interval: the same E-model as audio.

    No ITU model rates video from getStats figures alone (G.1070 needs codec-specific
    coefficient tables we cannot know), and low frame rates and resolutions are reported in
    the cumulative's `issues` already, so folding them in here would count them twice.
    """
    return network_mos(rtt_ms, jitter_ms, loss_pct)
