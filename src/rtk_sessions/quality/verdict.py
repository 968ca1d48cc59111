"""A peer report's call quality in one sentence, for support staff: the worst metric, how bad,
and when ("audio from Bob lost 12 % of packets between 10:04 and 10:06; MOS fell to 2.1").
Pure: it reads the report's per-sample lists (docs/quality.md) and nothing else."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rtk_sessions.quality.entries import entry_ms, figure_of, stream_of

# (field, factor to the unit shown, threshold, higher is worse, sentence after the subject)
_METRICS: dict[str, tuple[str, float, float, bool, str]] = {
    "loss": ("packet_loss_pct", 1.0, 5.0, True, "lost {v:.0f} % of packets"),
    "rtt": ("rtt", 1000.0, 250.0, True, "had a {v:.0f} ms round trip"),
    "jitter": ("jitter", 1000.0, 30.0, True, "had {v:.0f} ms of jitter"),
    "mos": ("mos_quality", 1.0, 3.5, False, "scored a MOS of {v:.1f}"),
    "fps": ("frames_per_second", 1.0, 15.0, False, "ran at {v:.0f} frames per second"),
}
POOR_MOS = _METRICS["mos"][2]


@dataclass(frozen=True)
class Verdict:
    level: str  # good, poor, or unknown (no statistics)
    headline: str
    section: str | None = None
    metric: str | None = None


@dataclass(frozen=True)
class _Run:
    section: str
    metric: str
    entries: list[dict[str, Any]]
    values: list[float]
    weight: float


def _subject(section: str, who: str) -> str:
    media = "screen share" if section.startswith("screenshare") else section.split("_")[-2]
    return f"{media} from {who}" if section.endswith("producer") else f"{media} received by {who}"


def _hhmm(entry: dict[str, Any]) -> str:
    at = entry_ms(entry)
    return "?" if at is None else datetime.fromtimestamp(at / 1000, UTC).strftime("%H:%M")


def _figures(entries: Iterable[dict[str, Any]], field: str) -> list[float]:
    return [v for e in entries if (v := figure_of(e, field)) is not None]


def _runs(section: str, entries: Sequence[dict[str, Any]]) -> list[_Run]:
    """Maximal stretches of one stream's consecutive samples beyond a metric's threshold (a
    section's list interleaves its streams by time; a stream is its SSRC)."""
    streams: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        streams.setdefault(stream_of(entry), []).append(entry)
    return [r for samples in streams.values() for r in _stream_runs(section, samples)]


def _stream_runs(section: str, entries: Sequence[dict[str, Any]]) -> list[_Run]:
    found = []
    for metric, (field, factor, threshold, higher_worse, _) in _METRICS.items():
        if metric == "fps" and not section.startswith(("video", "screenshare")):
            continue
        run: list[tuple[dict[str, Any], float]] = []
        for entry in [*entries, {}]:
            v = figure_of(entry, field, factor)
            if v is not None and (v >= threshold if higher_worse else v < threshold):
                run.append((entry, v))
                continue
            if run:
                values = [x for _, x in run]
                severity = sum(
                    (x / threshold if higher_worse else threshold / max(x, 0.1)) for x in values
                )
                found.append(_Run(section, metric, [e for e, _ in run], values, severity))
                run = []
    return found


def verdict(quality: dict[str, Any], who: str) -> Verdict:
    """The worst stretch over every section: the metric beyond its threshold for the most
    samples, weighted by how far beyond; its mean, its times, and the lowest MOS then."""
    sections = {k: v for k, v in quality.items() if isinstance(v, list) and v}
    if not sections:
        return Verdict("unknown", "No call-quality statistics were received for this peer.")
    totals: dict[tuple[str, str], float] = {}
    runs = [r for name, entries in sections.items() for r in _runs(name, entries)]
    for r in runs:
        totals[(r.section, r.metric)] = totals.get((r.section, r.metric), 0.0) + r.weight
    if not runs:
        every = [e for entries in sections.values() for e in entries]
        moses, losses = _figures(every, "mos_quality"), _figures(every, "packet_loss_pct")
        figures = []
        if moses:
            figures.append(f"MOS stayed at {min(moses):.1f} or above")
        if losses:
            figures.append(f"packet loss at most {max(losses):.1f} %")
        detail = "; ".join(figures) or "no figure crossed a threshold"
        return Verdict("good", f"No problem found for {who}: {detail}.")
    section, metric = max(totals, key=lambda k: totals[k])
    worst = max(
        (r for r in runs if (r.section, r.metric) == (section, metric)), key=lambda r: r.weight
    )
    mean = sum(worst.values) / len(worst.values)
    start, end = _hhmm(worst.entries[0]), _hhmm(worst.entries[-1])
    when = f"at {start}" if start == end else f"between {start} and {end}"
    sentence = f"{_subject(section, who)} {_METRICS[metric][4].format(v=mean)} {when}"
    if metric != "mos":
        moses = _figures(worst.entries, "mos_quality")
        if moses and min(moses) < POOR_MOS:
            sentence += f"; MOS fell to {min(moses):.1f}"
    return Verdict("poor", sentence[0].upper() + sentence[1:] + ".", section, metric)
