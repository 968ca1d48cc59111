"""What every summarizer takes and gives: utterances in, summary text out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Utterance:
    """One speaker turn of a transcript, in meeting order."""

    speaker: str  # display name, already resolved by the caller
    text: str
    start_ms: int  # offset from the session start


class SummaryError(Exception):
    """Generation failed; str(exc) is a reason fit to show a user."""


class Summarizer(Protocol):
    def summarize(
        self,
        utterances: Sequence[Utterance],
        *,
        word_limit: int,
        text_format: str,
        duration_ms: int | None = None,
    ) -> str:
        """The summary text; text_format is "markdown" or "plain_text".

        duration_ms is how long the session lasted (a transcript's span is only how long
        people talked); None when unknown. Raises SummaryError on failure. The body
        (headings excluded) has at most word_limit words.
        """
        ...
