"""Benchmark: time the extractive summarizer takes for a one-hour meeting.

A one-hour transcript is built from QMSum: the turns of the AMI product-design meetings
(ES*, IS*, TS*: short turns, like a team call), in sorted file-name order, are appended until
the text reaches 9,000 words (60 minutes at 150 words per minute); start offsets advance at
that pace. A second, stress-size input repeats all 27 meetings'
turns until there are 10,000 utterances. Each is summarized at the default word limit (500,
markdown) several times; the median wall time is printed.

    .venv/bin/python bench/summary_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

from rtk_sessions.summaries.extractive import ExtractiveSummarizer
from rtk_sessions.summaries.model import Utterance

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "qmsum" / "meetings"
WORDS_PER_MINUTE = 150
ONE_HOUR_WORDS = 60 * WORDS_PER_MINUTE


def turns(data: Path, pattern: str = "*.json") -> list[tuple[str, str]]:
    out = []
    for path in sorted(data.glob(pattern)):
        raw = json.loads(path.read_text(encoding="utf-8"))
        out += [(t["speaker"], t["content"]) for t in raw["transcript"]]
    return out


def paced(pairs: list[tuple[str, str]]) -> list[Utterance]:
    out, words = [], 0
    for speaker, text in pairs:
        out.append(Utterance(speaker, text, words * 60_000 // WORDS_PER_MINUTE))
        words += len(text.split())
    return out


def one_hour(all_turns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out, words = [], 0
    for speaker, text in all_turns:
        if words >= ONE_HOUR_WORDS:
            break
        out.append((speaker, text))
        words += len(text.split())
    return out


def median_seconds(utterances: list[Utterance], runs: int) -> float:
    summarizer = ExtractiveSummarizer()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        summarizer.summarize(utterances, word_limit=500, text_format="markdown")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    all_turns = turns(args.data)
    if not all_turns:
        print(f"no meetings under {args.data}", file=sys.stderr)
        return 2
    ami = [t for prefix in ("ES", "IS", "TS") for t in turns(args.data, f"{prefix}*.json")]
    hour = paced(one_hour(ami))
    stress = paced(list(itertools.islice(itertools.cycle(all_turns), 10_000)))
    print(f"cores: {os.cpu_count()}, runs: {args.runs}, word limit 500, markdown")
    print("| input | utterances | words | median |")
    print("|---|---|---|---|")
    for label, utterances in (("one hour", hour), ("10,000 utterances", stress)):
        words = sum(len(u.text.split()) for u in utterances)
        seconds = median_seconds(utterances, args.runs)
        print(f"| {label} | {len(utterances):,} | {words:,} | {seconds * 1000:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
