"""The offline summarizer: shape, limits, rules, determinism, and one real meeting."""

from __future__ import annotations

import json

import pytest

from rtk_sessions.summaries.extractive import ExtractiveSummarizer, clean
from rtk_sessions.summaries.model import SummaryError, Utterance
from rtk_sessions.summaries.render import body_word_count, plain_body
from support import DATA

QMSUM = DATA / "qmsum" / "meetings"
HEADINGS = [
    "## Meeting Summary",
    "### Key Discussion Points",
    "### Action Items",
    "### Decisions Made",
]

MEETING = [
    ("Alice", "Okay, um, let's start {vocalsound} with the quarterly roadmap review."),
    ("Bob", "The database migration to Postgres is about two weeks behind schedule."),
    ("Alice", "Why is the database migration behind? {disfmarker} Is it the schema work?"),
    ("Bob", "Yes, the schema conversion for the billing tables took longer than planned."),
    ("Carol", "Customer feedback says the dashboard loads slowly on large accounts."),
    ("Bob", "We decided to go with Kubernetes for the new deployment pipeline."),
    ("Alice", "I will send the report by Friday."),
    ("Carol", "Mm-hmm. {gap} Yeah."),
    ("Carol", "The dashboard performance work needs profiling of the slow queries first."),
    ("Bob", "Billing tables and the Postgres schema are the biggest migration risk."),
]


def utterances(pairs: list[tuple[str, str]]) -> list[Utterance]:
    return [Utterance(s, t, i * 20_000) for i, (s, t) in enumerate(pairs)]


def summarize(pairs: list[tuple[str, str]], limit: int = 150, fmt: str = "markdown") -> str:
    return ExtractiveSummarizer().summarize(utterances(pairs), word_limit=limit, text_format=fmt)


def test_the_four_headings_appear_in_order() -> None:
    text = summarize(MEETING)
    positions = [text.index(h) for h in HEADINGS]
    assert positions == sorted(positions)
    assert text.startswith("## Meeting Summary\n")


def test_same_input_gives_the_same_text() -> None:
    assert summarize(MEETING) == summarize(list(MEETING))


@pytest.mark.parametrize("limit", [20, 150, 500])
def test_the_body_respects_the_word_limit(limit: int) -> None:
    long_meeting = MEETING * 40  # about 4,000 words, so every limit bites
    for fmt in ("markdown", "plain_text"):
        text = summarize(long_meeting, limit, fmt)
        assert 0 < body_word_count(text) <= limit
        assert len(plain_body(text).split()) == body_word_count(text)


def test_action_items_and_decisions_are_found_with_their_speakers() -> None:
    text = summarize(MEETING)
    actions = text.split("### Action Items")[1].split("### Decisions Made")[0]
    decisions = text.split("### Decisions Made")[1]
    assert "@Alice: I will send the report by Friday." in actions
    assert "Bob: We decided to go with Kubernetes" in decisions
    assert "Kubernetes" not in actions


def test_sections_without_findings_say_none_recorded() -> None:
    text = summarize(MEETING[1:5])
    assert text.split("### Action Items")[1].split("###")[0].strip() == "- None recorded."
    assert text.split("### Decisions Made")[1].strip() == "- None recorded."


def test_transcription_markers_and_fillers_never_reach_the_output() -> None:
    text = summarize(MEETING, 500)
    for noise in ("{", "}", "vocalsound", "disfmarker", " um", "Mm-hmm"):
        assert noise not in text


def test_clean_removes_qmsum_noise() -> None:
    noisy = "Um {vocalsound} the the D_V_D_ player , uh , is {disfmarker} fine ."
    assert clean(noisy) == "the DVD player, is fine."


def test_plain_text_has_no_markdown_headings() -> None:
    text = summarize(MEETING, fmt="plain_text")
    assert "#" not in text
    lines = text.splitlines()
    assert lines[0] == "Meeting Summary"
    assert "Key Discussion Points:" in lines and "Decisions Made:" in lines


def test_key_points_name_the_speaker() -> None:
    text = summarize(MEETING)
    points = text.split("### Key Discussion Points")[1].split("### Action Items")[0]
    bullets = [line for line in points.splitlines() if line.startswith("- ")]
    assert bullets and all(line.split(":")[0][2:] in {"Alice", "Bob", "Carol"} for line in bullets)


def test_one_utterance_is_enough() -> None:
    text = summarize([("Dana", "The release candidate passed every integration test today.")])
    assert "Dana" in text and "release candidate" in text


def test_an_empty_transcript_is_an_error() -> None:
    with pytest.raises(SummaryError, match="transcript is empty"):
        summarize([])
    with pytest.raises(SummaryError, match="transcript is empty"):
        summarize([("Eve", "   ")])


def test_unknown_format_is_an_error() -> None:
    with pytest.raises(SummaryError, match="format"):
        summarize(MEETING, fmt="html")


def test_a_real_qmsum_meeting_gives_a_real_summary() -> None:
    path = QMSUM / "ES2009b.json"
    turns = json.loads(path.read_text(encoding="utf-8"))["transcript"]
    text = summarize([(t["speaker"], t["content"]) for t in turns], 300)
    points = text.split("### Key Discussion Points")[1].split("### Action Items")[0]
    assert len([line for line in points.splitlines() if line.startswith("- ")]) >= 3
    assert 200 <= body_word_count(text) <= 300
    assert "{" not in text and "Project Manager" in text
