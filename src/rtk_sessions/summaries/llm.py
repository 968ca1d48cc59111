"""Summaries written by any OpenAI-compatible chat-completions endpoint.

A transcript that fits one chunk goes to the model in one request. A longer one is
map-reduced: each chunk of about CHUNK_WORDS words becomes notes (map), and one last request
writes the summary from the notes (reduce), so no request outgrows a model's context.

The model is always asked for markdown with the four headings; its answer is read back into
sections (`render.parse_sections`) and rendered here in the requested format, trimmed to the
word limit if the model overshot. Missing sections are repaired as "None recorded."; an
answer with none of the section headings is a failure, not something to guess at.

A failure reaches API clients as its class only ("the summary model could not be reached");
the endpoint, the exception and the model's answer go to the log, redacted (docs/security.md).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx
import msgspec

from rtk_sessions.kit.redact import redact_url, redacted_logger
from rtk_sessions.summaries.extractive import clean
from rtk_sessions.summaries.model import SummaryError, Utterance
from rtk_sessions.summaries.render import check_request, fit, parse_sections, render

CHUNK_WORDS = 3000
NOTES_WORDS = 400  # per chunk: enough detail for the reduce step, small enough to add up
BACKOFF_SECONDS = 0.5  # doubled per retry

log = redacted_logger("rtk_sessions.summaries")

SYSTEM_PROMPT = (
    "You summarize meeting transcripts for the people who attended. Be factual: only state "
    "what the transcript says, and name who said or owns what, using the speakers' names as "
    "given."
)
FORMAT_PROMPT = """Write the summary in Markdown with exactly these headings, in this order:

## Meeting Summary

One short overview paragraph.

### Key Discussion Points

- One bullet per topic, naming who raised it.

### Action Items

- @Name: task and due date if one was given (or "- None recorded.")

### Decisions Made

- One bullet per decision (or "- None recorded.")

Use at most {word_limit} words, headings excluded. Write nothing before or after the summary."""


class _Message(msgspec.Struct):
    content: str


class _Choice(msgspec.Struct):
    message: _Message


class _Completion(msgspec.Struct):
    choices: list[_Choice]


class LlmSummarizer:
    """Summaries from an OpenAI-compatible endpoint; blocking, meant for a worker thread."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        key: str = "",
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = BACKOFF_SECONDS,
        chunk_words: int = CHUNK_WORDS,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.timeout = timeout
        self.attempts = 1 + max(0, retries)
        self.backoff = backoff
        self.chunk_words = chunk_words

    def summarize(
        self,
        utterances: Sequence[Utterance],
        *,
        word_limit: int,
        text_format: str,
        duration_ms: int | None = None,
    ) -> str:
        check_request(word_limit, text_format)
        chunks = transcript_chunks(utterances, self.chunk_words)
        if not chunks:
            raise SummaryError("transcript is empty")
        with httpx.Client(timeout=self.timeout, headers=self.headers) as client:
            if len(chunks) == 1:
                source = f"Transcript:\n\n{chunks[0]}"
            else:
                notes = [
                    self._notes(client, chunk, i, len(chunks)) for i, chunk in enumerate(chunks)
                ]
                source = "Notes on consecutive parts of one meeting:\n\n" + "\n\n".join(notes)
            answer = self._chat(
                client,
                f"{_lasted(duration_ms)}{source}\n\n{FORMAT_PROMPT.format(word_limit=word_limit)}",
            )
        parts = parse_sections(answer)
        if parts is None:
            raise self._failed(
                "the summary model answered without the summary headings "
                "(Key Discussion Points, Action Items, Decisions Made)",
                f"answer began {_snippet(answer)!r}",
            )
        return render(fit(parts, word_limit), text_format)

    def _failed(self, reason: str, detail: str) -> SummaryError:
        """The error for clients (the reason only) after logging the details for operators."""
        log.warning("LLM summary: %s; %s (endpoint %s)", reason, detail, redact_url(self.url))
        return SummaryError(reason)

    def _notes(self, client: httpx.Client, chunk: str, index: int, count: int) -> str:
        """The map step: notes on one part of the meeting."""
        return self._chat(
            client,
            f"Part {index + 1} of {count} of a meeting transcript:\n\n{chunk}\n\n"
            f"Write notes on this part in at most {NOTES_WORDS} words: the topics discussed "
            "and who said what, action items with their owner and due date, and decisions.",
        )

    def _chat(self, client: httpx.Client, prompt: str) -> str:
        """One completion, retried on timeouts, lost connections, 429 and 5xx."""
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": prompt},
            ],
            "temperature": 0,
        }
        reason = detail = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = client.post(self.url, json=body)
            except httpx.TimeoutException as exc:
                reason = f"the summary model did not answer within {self.timeout:g} s"
                detail = type(exc).__name__
                continue
            except httpx.TransportError as exc:
                reason, detail = "the summary model could not be reached", _describe(exc)
                continue
            if response.status_code == 200:
                return self._content(response)
            reason = f"the summary model answered HTTP {response.status_code}"
            detail = f"body {_snippet(response.text)!r}"
            if not _retryable(response.status_code):
                raise self._failed(reason, detail)
        tries = f"{self.attempts} attempt" + ("s" if self.attempts > 1 else "")
        raise self._failed(f"{reason} (gave up after {tries})", detail)

    def _content(self, response: httpx.Response) -> str:
        try:
            completion = msgspec.json.decode(response.content, type=_Completion)
        except msgspec.MsgspecError as exc:
            raise self._failed(
                "the summary model answered with an unexpected body", _describe(exc)
            ) from None
        if not completion.choices or not completion.choices[0].message.content.strip():
            raise self._failed("the summary model answered with an empty completion", "")
        return completion.choices[0].message.content


def transcript_chunks(utterances: Sequence[Utterance], chunk_words: int) -> list[str]:
    """Lines of "[mm:ss] Speaker: text", grouped into chunks of at most chunk_words words."""
    chunks: list[list[str]] = []
    size = chunk_words  # forces a new chunk for the first line
    for u in utterances:
        words = clean(u.text).split()
        for start in range(0, len(words), chunk_words):
            piece = words[start : start + chunk_words]
            if size + len(piece) > chunk_words:
                chunks.append([])
                size = 0
            chunks[-1].append(f"[{_clock(u.start_ms)}] {u.speaker}: {' '.join(piece)}")
            size += len(piece)
    return ["\n".join(lines) for lines in chunks]


def _lasted(duration_ms: int | None) -> str:
    """The session's length for the prompt: a transcript's span is only how long people talked."""
    if not duration_ms:
        return ""
    return f"The meeting lasted about {max(1, round(duration_ms / 60_000))} minutes.\n\n"


def _clock(ms: int) -> str:
    minutes, seconds = divmod(max(0, ms) // 1000, 60)
    return f"{minutes:02d}:{seconds:02d}"


def _retryable(status: int) -> bool:
    """429 and 5xx may pass; any other 4xx will fail the same way again."""
    return status >= 500 or status == 429


def _snippet(text: str) -> str:
    """The start of a text on one line, for the log: bounded, no line breaks to forge lines."""
    flat = " ".join(text.split())
    return (flat[:200] + "…") if len(flat) > 200 else flat or "(empty)"


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {_snippet(str(exc))}"
