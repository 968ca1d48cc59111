"""Which summarizer a deployment uses, chosen from the settings."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rtk_sessions.config import Settings
from rtk_sessions.summaries.extractive import ExtractiveSummarizer
from rtk_sessions.summaries.llm import LlmSummarizer
from rtk_sessions.summaries.model import Summarizer, SummaryError, Utterance

log = logging.getLogger("rtk_sessions.summaries")


class FallbackSummarizer:
    """Try the primary; when it fails, answer with the fallback's summary instead."""

    def __init__(self, primary: Summarizer, fallback: Summarizer) -> None:
        self.primary = primary
        self.fallback = fallback

    def summarize(
        self,
        utterances: Sequence[Utterance],
        *,
        word_limit: int,
        text_format: str,
        duration_ms: int | None = None,
    ) -> str:
        try:
            return self.primary.summarize(
                utterances, word_limit=word_limit, text_format=text_format, duration_ms=duration_ms
            )
        except SummaryError as exc:
            log.warning("LLM summary failed (%s); writing an extractive summary instead", exc)
            return self.fallback.summarize(
                utterances, word_limit=word_limit, text_format=text_format, duration_ms=duration_ms
            )


def summarizer_from_settings(settings: Settings) -> Summarizer:
    """The extractive summarizer unless an LLM URL is set; the LLM falls back if asked to."""
    extractive = ExtractiveSummarizer()
    if not settings.summary_llm_url:
        return extractive
    llm = LlmSummarizer(
        settings.summary_llm_url,
        model=settings.summary_llm_model,
        key=settings.summary_llm_key,
        timeout=settings.summary_llm_timeout,
        retries=settings.summary_llm_retries,
    )
    return FallbackSummarizer(llm, extractive) if settings.summary_llm_fallback else llm
