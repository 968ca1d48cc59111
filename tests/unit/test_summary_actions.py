"""Action items: whose they are, which questions count, and the meeting's length in the
overview (docs/summaries.md, "Action items and decisions")."""

from __future__ import annotations

import pytest

from rtk_sessions.demo.content import TRANSCRIPT_SENTENCES
from rtk_sessions.summaries.actions import Participants, action_line, is_action
from rtk_sessions.summaries.extractive import ExtractiveSummarizer
from rtk_sessions.summaries.model import Utterance

MINUTE = 60_000
PEOPLE = Participants.of(["Ada Lovelace", "Bob Lee", "Carol", "Dan Ng", "Dan Wu", "Eve, Jr."])
TOPIC = [
    ("Carol", "The release candidate for the billing service passed every integration test."),
    ("Bob Lee", "The billing service migration still needs a final security review."),
    ("Ada Lovelace", "Customer feedback on the billing dashboard has been mostly positive."),
]


def summarize(pairs: list[tuple[str, str]], duration_ms: int | None = None) -> str:
    utterances = [Utterance(s, t, i * 30_000) for i, (s, t) in enumerate(pairs)]
    return ExtractiveSummarizer().summarize(
        utterances, word_limit=300, text_format="markdown", duration_ms=duration_ms
    )


def action_items(text: str) -> list[str]:
    section = text.split("### Action Items")[1].split("### Decisions Made")[0]
    return [line[2:] for line in section.splitlines() if line.startswith("- ")]


def test_the_overview_gives_the_sessions_length_not_the_transcripts() -> None:
    talk = [(s, t) for s, t in TOPIC for _ in range(3)]  # 9 turns, 30 s apart: a 4-minute span
    assert "over about 4 minutes" in summarize(talk)  # all a transcript can tell
    text = summarize(talk, duration_ms=25 * MINUTE)
    assert "over about 25 minutes" in text and "4 minutes" not in text


def test_a_duration_shorter_than_the_transcript_does_not_shrink_it() -> None:
    talk = [(s, t) for s, t in TOPIC for _ in range(3)]
    assert "over about 4 minutes" in summarize(talk, duration_ms=MINUTE)


@pytest.mark.parametrize(
    ("speaker", "said", "line"),
    [
        (
            "Ada Lovelace",
            "Bob, please send the release notes.",
            "@Bob Lee: Please send the release notes. (from Ada Lovelace)",
        ),
        (
            "Ada Lovelace",
            "Hey Bob, can you send me the budget by Friday?",
            "@Bob Lee: Can you send me the budget by Friday? (from Ada Lovelace)",
        ),
        (
            "Bob Lee",
            "Could you review the pull request by tomorrow, Carol?",
            "@Carol: Could you review the pull request by tomorrow? (from Bob Lee)",
        ),
        (
            "Carol",
            "@Ada can you file a ticket for the login bug?",
            "@Ada Lovelace: @Ada can you file a ticket for the login bug? (from Carol)",
        ),
        (
            "Carol",
            "Eve, please book the room for the offsite.",
            "@Eve, Jr.: Please book the room for the offsite. (from Carol)",
        ),
        (
            "Carol",
            "Bob will prepare the migration checklist.",
            "@Bob Lee: Bob will prepare the migration checklist. (from Carol)",
        ),
        (
            "Carol",
            "Action item: Ada Lovelace to update the onboarding docs.",
            "@Ada Lovelace: Action item: Ada Lovelace to update the onboarding docs. (from Carol)",
        ),
    ],
)
def test_an_action_item_belongs_to_the_participant_it_is_addressed_to(
    speaker: str, said: str, line: str
) -> None:
    assert is_action(said)
    assert action_line(said, speaker, PEOPLE) == line


@pytest.mark.parametrize(
    "said",
    [
        "Zed, please send the release notes.",  # not a participant
        "Dan, please send the release notes.",  # two participants are called Dan
        "Bob, I will send you the release notes by Friday.",  # the speaker commits
        "bob, please send the release notes.",  # only a capitalized word is a name
        "Please send the release notes by Friday.",  # nobody named
    ],
)
def test_otherwise_the_action_item_is_the_speakers(said: str) -> None:
    assert is_action(said)
    assert action_line(said, "Ada Lovelace", PEOPLE) == f"@Ada Lovelace: {said}"


def test_an_addressed_request_in_a_whole_summary() -> None:
    text = summarize([*TOPIC, ("Ada Lovelace", "Bob, please send the release notes.")])
    assert action_items(text) == ["@Bob Lee: Please send the release notes. (from Ada Lovelace)"]


@pytest.mark.parametrize(
    "said",
    [
        "Can you go back one slide?",
        "Can you hear me?",
        "Could you share your screen?",
        "Can you see my screen now?",
        "Sorry, could you go back for a second?",
        "Can you explain how the cache works?",  # asks for an answer now, not for work later
        "Could you say that again?",
        "Please drop your questions in the chat.",
        "I'll share my screen.",
    ],
)
def test_requests_about_the_meeting_itself_are_not_action_items(said: str) -> None:
    assert not is_action(said)


@pytest.mark.parametrize(
    "said",
    [
        "Can you send me the slides by Friday?",
        "Could you review the pull request?",
        "Would you draft the announcement for the blog?",
        "Can you take a look at the flaky test after the meeting?",
        "Please update the onboarding docs.",
        "I will send the report by Friday.",
        "We need to fix the retry logic before the release.",
        "Yes, we'll send the recording and the slides to everyone who registered.",
    ],
)
def test_requests_for_work_after_the_meeting_still_are(said: str) -> None:
    assert is_action(said)


def test_the_demos_slide_question_is_not_an_action_item() -> None:
    question = "Can you go back one slide?"
    assert question in TRANSCRIPT_SENTENCES
    talk = [*TOPIC, ("Bob Lee", question), ("Carol", "I will send the report by Friday.")]
    assert action_items(summarize(talk)) == ["@Carol: I will send the report by Friday."]
