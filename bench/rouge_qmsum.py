"""Benchmark: ROUGE of the extractive summarizer on QMSum, beside two baselines of equal length.

Protocol (docs/summaries.md, "How good is the extractive summary?"):
* 27 QMSum meetings, sorted by file name; even indices (0, 2, ...) are the tuning half every
  constant of the summarizer was chosen on, odd indices the held-out half. Means are reported
  for both halves and all 27.
* For each meeting, N = the reference summary's length in words. The summarizer runs with
  word_limit = N (markdown); its text is scored without headings and bullet markers.
* first-N = the first N words of the transcript; random-N = sentences of the transcript in a
  random order (seeded per meeting), concatenated and cut at N words. Both baselines read the
  transcript after the same cleaning the summarizer uses (sound markers, fillers and stutters
  removed), so the comparison measures the choice of sentences, not the cleaning.
* ROUGE-1/2/L F1, `rouge_score.RougeScorer(..., use_stemmer=True)`.

Exits 1 unless the summarizer beats both baselines by >= 10 % relative on ROUGE-1 and
ROUGE-L on the held-out half.

    .venv/bin/python bench/rouge_qmsum.py [--data tests/data/qmsum/meetings]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rouge_score import rouge_scorer  # type: ignore[import-untyped]

from rtk_sessions.summaries.extractive import ExtractiveSummarizer, clean
from rtk_sessions.summaries.model import Utterance
from rtk_sessions.summaries.render import plain_body

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "qmsum" / "meetings"
METRICS = ("rouge1", "rouge2", "rougeL")
SYSTEMS = ("summarizer", "first-N", "random-N")
SEED = 2024
WORDS_PER_MINUTE = 150  # QMSum has no timings; offsets are made up at a speaking pace
CLEARLY = 1.10


@dataclass(frozen=True)
class Meeting:
    name: str
    reference: str
    utterances: list[Utterance]


def load(data: Path) -> list[Meeting]:
    meetings = []
    for path in sorted(data.glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        meetings.append(Meeting(path.stem, raw["reference_summary"], utterances(raw)))
    return meetings


def utterances(raw: dict[str, Any]) -> list[Utterance]:
    """QMSum turns as utterances, start offsets paced at WORDS_PER_MINUTE."""
    out, words = [], 0
    for turn in raw["transcript"]:
        out.append(Utterance(turn["speaker"], turn["content"], words * 60_000 // WORDS_PER_MINUTE))
        words += len(turn["content"].split())
    return out


def summarizer_text(meeting: Meeting, n: int) -> str:
    summary = ExtractiveSummarizer().summarize(
        meeting.utterances, word_limit=n, text_format="markdown"
    )
    return plain_body(summary)


def first_n(meeting: Meeting, n: int) -> str:
    words = " ".join(clean(u.text) for u in meeting.utterances).split()
    return " ".join(words[:n])


def random_n(meeting: Meeting, n: int) -> str:
    sentences = [
        s for u in meeting.utterances for s in re.split(r"(?<=[.!?])\s+", clean(u.text)) if s
    ]
    random.Random(f"{SEED}:{meeting.name}").shuffle(sentences)
    return " ".join(" ".join(sentences).split()[:n])


def score_all(meetings: list[Meeting]) -> dict[str, dict[str, dict[str, float]]]:
    """meeting name -> system -> metric -> F1."""
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for m in meetings:
        n = len(m.reference.split())
        texts = {
            "summarizer": summarizer_text(m, n),
            "first-N": first_n(m, n),
            "random-N": random_n(m, n),
        }
        results[m.name] = {
            system: {k: v.fmeasure for k, v in scorer.score(m.reference, text).items()}
            for system, text in texts.items()
        }
    return results


def means(
    results: dict[str, dict[str, dict[str, float]]], names: list[str]
) -> dict[str, dict[str, float]]:
    return {
        system: {k: statistics.fmean(results[n][system][k] for n in names) for k in METRICS}
        for system in SYSTEMS
    }


def table(title: str, m: dict[str, dict[str, float]], count: int) -> str:
    lines = [
        f"{title} ({count} meetings)",
        "| system | ROUGE-1 | ROUGE-2 | ROUGE-L |",
        "|---|---|---|---|",
    ]
    for system in SYSTEMS:
        lines.append(f"| {system} | " + " | ".join(f"{m[system][k]:.4f}" for k in METRICS) + " |")
    return "\n".join(lines)


def verdict(m: dict[str, dict[str, float]]) -> list[str]:
    """The shortfalls against the "clearly beats" rule; empty means it holds."""
    failures = []
    for baseline in ("first-N", "random-N"):
        for k in ("rouge1", "rougeL"):
            ratio = m["summarizer"][k] / m[baseline][k]
            if ratio < CLEARLY:
                failures.append(f"{k} vs {baseline}: only {100 * (ratio - 1):+.1f} %")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--per-meeting", action="store_true", help="print every meeting's scores")
    args = parser.parse_args()
    meetings = load(args.data)
    if not meetings:
        print(f"no meetings under {args.data}", file=sys.stderr)
        return 2
    names = [m.name for m in meetings]
    tuning, held_out = names[0::2], names[1::2]
    results = score_all(meetings)
    if args.per_meeting:
        for name in names:
            row = "  ".join(f"{s} {results[name][s]['rouge1']:.3f}" for s in SYSTEMS)
            print(f"{name:14} R1: {row}")
    for title, part in (("tuning half", tuning), ("held-out half", held_out), ("all", names)):
        print(table(title, means(results, part), len(part)), end="\n\n")
    held = means(results, held_out)
    for system in ("first-N", "random-N"):
        gains = ", ".join(
            f"{k} {100 * (held['summarizer'][k] / held[system][k] - 1):+.1f} %" for k in METRICS
        )
        print(f"held-out gain vs {system}: {gains}")
    failures = verdict(held)
    print("clearly beats both baselines on the held-out half:", "yes" if not failures else "NO")
    for failure in failures:
        print("  " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
