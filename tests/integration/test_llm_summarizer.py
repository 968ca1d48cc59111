"""The LLM summarizer against a real (fake) OpenAI-compatible server on loopback.

The server is stdlib `http.server` in a thread: each test scripts its answers (status, body,
delay) and reads back the requests it received. Nothing of ours is mocked.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rtk_sessions.config import Settings
from rtk_sessions.summaries.extractive import ExtractiveSummarizer
from rtk_sessions.summaries.llm import LlmSummarizer, transcript_chunks
from rtk_sessions.summaries.model import SummaryError, Utterance
from rtk_sessions.summaries.render import body_word_count
from rtk_sessions.summaries.summarizers import summarizer_from_settings

GOOD_SUMMARY = """## Meeting Summary

The team reviewed the migration.

### Key Discussion Points

- Bob: the migration is two weeks late.

### Action Items

- @Alice: send the report by Friday

### Decisions Made

- Go with Kubernetes.
"""

SHORT = [
    Utterance("Alice", "Let's review the database migration status.", 0),
    Utterance("Bob", "We decided to go with Kubernetes. The migration is two weeks late.", 4_000),
    Utterance("Alice", "I will send the report by Friday.", 9_000),
]


@dataclass
class Reply:
    status: int = 200
    body: str | None = None  # None = a completion carrying `content`
    content: str = GOOD_SUMMARY
    delay: float = 0.0


@dataclass
class FakeLlm:
    url: str
    replies: list[Reply] = field(default_factory=list)  # consumed in order; then the default
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, request: dict[str, Any]) -> Reply:
        with self.lock:
            self.requests.append(request)
            return self.replies.pop(0) if self.replies else Reply()


def _handler(fake: FakeLlm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            reply = fake.next_reply(
                {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)}
            )
            time.sleep(reply.delay)
            body = reply.body
            if body is None:
                body = json.dumps({"choices": [{"message": {"content": reply.content}}]})
            data = body.encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_llm() -> Iterator[FakeLlm]:
    fake = FakeLlm(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def llm(fake: FakeLlm, **options: Any) -> LlmSummarizer:
    defaults: dict[str, Any] = {"model": "test-model", "key": "sk-test", "timeout": 2.0}
    return LlmSummarizer(fake.url, backoff=0.01, **{**defaults, **options})


def test_a_short_transcript_takes_one_request(fake_llm: FakeLlm) -> None:
    text = llm(fake_llm).summarize(SHORT, word_limit=150, text_format="markdown")
    assert len(fake_llm.requests) == 1
    request = fake_llm.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    body = request["body"]
    assert body["model"] == "test-model" and body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "Bob: We decided to go with Kubernetes." in body["messages"][1]["content"]
    assert "150 words" in body["messages"][1]["content"]
    assert text.startswith("## Meeting Summary\n")
    assert "- @Alice: send the report by Friday" in text


def test_no_key_sends_no_authorization(fake_llm: FakeLlm) -> None:
    llm(fake_llm, key="").summarize(SHORT, word_limit=150, text_format="markdown")
    assert "Authorization" not in fake_llm.requests[0]["headers"]


def test_a_long_transcript_is_map_reduced(fake_llm: FakeLlm) -> None:
    long = [
        Utterance(f"Speaker {i % 3}", f"Point number {i} about the release plan and its risks.", i)
        for i in range(60)
    ]
    chunks = transcript_chunks(long, 100)
    assert len(chunks) > 2
    fake_llm.replies = [Reply(content=f"notes {i}") for i in range(len(chunks))]
    text = llm(fake_llm, chunk_words=100).summarize(long, word_limit=200, text_format="markdown")
    assert len(fake_llm.requests) == len(chunks) + 1
    prompts = [r["body"]["messages"][1]["content"] for r in fake_llm.requests]
    assert prompts[0].startswith(f"Part 1 of {len(chunks)}")
    assert all(f"notes {i}" in prompts[-1] for i in range(len(chunks)))
    assert "### Decisions Made" in text


def test_a_server_error_is_retried(fake_llm: FakeLlm) -> None:
    fake_llm.replies = [Reply(status=500, body='{"error": "overloaded"}')]
    text = llm(fake_llm, retries=2).summarize(SHORT, word_limit=150, text_format="markdown")
    assert len(fake_llm.requests) == 2
    assert "Kubernetes" in text


def test_timeouts_give_up_after_the_retries(fake_llm: FakeLlm) -> None:
    fake_llm.replies = [Reply(delay=0.6), Reply(delay=0.6)]
    started = time.monotonic()
    with pytest.raises(SummaryError, match=r"did not answer within 0.2 s.*2 attempts"):
        llm(fake_llm, timeout=0.2, retries=1).summarize(
            SHORT, word_limit=150, text_format="markdown"
        )
    assert time.monotonic() - started < 2.0
    assert len(fake_llm.requests) == 2


def test_unauthorized_is_not_retried(fake_llm: FakeLlm, caplog: pytest.LogCaptureFixture) -> None:
    fake_llm.replies = [Reply(status=401, body='{"error": "invalid api key sk-te***st"}')]
    with pytest.raises(SummaryError) as caught:
        llm(fake_llm, retries=3).summarize(SHORT, word_limit=150, text_format="markdown")
    assert len(fake_llm.requests) == 1
    # Clients read the failure's class; the model's answer and the endpoint are for the log.
    assert str(caught.value) == "the summary model answered HTTP 401"
    assert "invalid api key sk-te***st" in caplog.text and "127.0.0.1" in caplog.text


def test_credentials_in_the_url_reach_neither_the_error_nor_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://llm-user:hunter2@127.0.0.1:{port}/v1"
    summarizer = LlmSummarizer(url, model="m", key="sk-secret", retries=0, timeout=2.0)
    with pytest.raises(SummaryError) as caught:
        summarizer.summarize(SHORT, word_limit=150, text_format="markdown")
    assert str(caught.value) == "the summary model could not be reached (gave up after 1 attempt)"
    assert "could not be reached" in caplog.text and f"127.0.0.1:{port}" in caplog.text
    for secret in ("hunter2", "llm-user", "sk-secret"):
        assert secret not in caplog.text


@pytest.mark.parametrize("body", ["this is not json", '{"choices": []}', '{"choices": [{}]}'])
def test_a_malformed_answer_is_an_error(fake_llm: FakeLlm, body: str) -> None:
    fake_llm.replies = [Reply(body=body)]
    with pytest.raises(SummaryError, match=r"^the summary model answered with an"):
        llm(fake_llm).summarize(SHORT, word_limit=150, text_format="markdown")
    assert len(fake_llm.requests) == 1


def test_an_answer_without_the_headings_is_an_error(fake_llm: FakeLlm) -> None:
    fake_llm.replies = [Reply(content="The team talked about things.")]
    with pytest.raises(SummaryError, match="without the summary headings"):
        llm(fake_llm).summarize(SHORT, word_limit=150, text_format="markdown")


def test_missing_sections_are_repaired_and_overshoot_is_trimmed(fake_llm: FakeLlm) -> None:
    wordy = "Key Discussion Points:\n" + "\n".join(f"- point {i} " + "word " * 20 for i in range(9))
    fake_llm.replies = [Reply(content=wordy)]
    text = llm(fake_llm).summarize(SHORT, word_limit=50, text_format="plain_text")
    assert body_word_count(text) <= 50
    assert "#" not in text
    assert text.count("- None recorded.") == 2
    assert text.index("Action Items:") < text.index("Decisions Made:")


def test_the_fallback_setting_writes_the_extractive_summary(fake_llm: FakeLlm) -> None:
    fake_llm.replies = [Reply(status=503, body="down")]
    settings = Settings(
        summary_llm_url=fake_llm.url, summary_llm_retries=0, summary_llm_fallback=True
    )
    text = summarizer_from_settings(settings).summarize(
        SHORT, word_limit=150, text_format="markdown"
    )
    expected = ExtractiveSummarizer().summarize(SHORT, word_limit=150, text_format="markdown")
    assert text == expected
    assert len(fake_llm.requests) == 1


def test_without_fallback_the_failure_is_reported(fake_llm: FakeLlm) -> None:
    fake_llm.replies = [Reply(status=503, body="down")]
    settings = Settings(summary_llm_url=fake_llm.url, summary_llm_retries=0)
    with pytest.raises(SummaryError, match="answered HTTP 503"):
        summarizer_from_settings(settings).summarize(SHORT, word_limit=150, text_format="markdown")


def test_no_url_means_the_extractive_summarizer() -> None:
    assert isinstance(summarizer_from_settings(Settings()), ExtractiveSummarizer)


def test_the_sessions_length_is_in_the_prompt(fake_llm: FakeLlm) -> None:
    """The transcript's timestamps span seconds; the session lasted 25 minutes."""
    llm(fake_llm).summarize(SHORT, word_limit=150, text_format="markdown", duration_ms=1_500_000)
    assert (
        "The meeting lasted about 25 minutes."
        in fake_llm.requests[0]["body"]["messages"][1]["content"]
    )
    fake_llm.replies = [Reply(status=503, body="down")]
    settings = Settings(
        summary_llm_url=fake_llm.url, summary_llm_retries=0, summary_llm_fallback=True
    )
    text = summarizer_from_settings(settings).summarize(
        SHORT, word_limit=150, text_format="markdown", duration_ms=1_500_000
    )
    assert "over about 25 minutes" in text  # the fallback gets it too
