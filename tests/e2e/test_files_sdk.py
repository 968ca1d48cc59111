"""End to end: chat, transcripts and summaries through the official SDK (strict), downloaded
over HTTP from the links it returns, and checked against what was ingested.

Expected offsets and ends are worked out by hand from the scenario below.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cloudflare
import httpx
import pytest
import srt
import webvtt
from cloudflare import Cloudflare

from files_scenario import (
    ACCOUNT,
    Scenario,
    _chat,
    _segment,
    build,
    download,
    expiry_of,
    ingest,
    iso,
    ms,
    sdk,
    session_of,
    wait_for_summary,
)
from support import own_database, running_server

pytestmark = pytest.mark.e2e

WEEK_MS = 7 * 86_400_000


@pytest.fixture(scope="module")
def scenario(server: Any) -> Iterator[Scenario]:
    sc = build(f"app-{uuid.uuid4().hex[:8]}")
    ingest(server, sc.app, sc.events)
    yield sc


@pytest.fixture(scope="module")
def client(server: Any, scenario: Scenario) -> Cloudflare:
    return sdk(server, server.token(ACCOUNT, "read", "admin", app=scenario.app))


def test_chat_export_round_trips(client: Cloudflare, scenario: Scenario) -> None:
    sid = session_of(client, scenario, scenario.meeting)
    before = int(time.time() * 1000)
    chat = client.realtime_kit.sessions.get_session_chat(
        sid, account_id=ACCOUNT, app_id=scenario.app
    )
    after = int(time.time() * 1000)
    assert chat.data is not None
    url, expiry = chat.data.chat_download_url, chat.data.chat_download_url_expiry
    assert expiry == iso(datetime.fromtimestamp(expiry_of(url) / 1000, UTC))
    # RTK_LINK_TTL = 1 h from the server's "now", in whole seconds (rounded down)
    assert before + 3_600_000 - 1000 < expiry_of(url) <= after + 3_600_000
    resp = download(url)
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert f'filename="chat-{sid}.csv"' in resp.headers["content-disposition"]
    text = resp.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    b = scenario.start
    assert rows[0] == ["id", "participantId", "sessionId", "meetingId", "displayName", "pinned",
                       "isEdited", "payloadType", "payload", "createdAt"]  # fmt: skip
    m = scenario.meeting
    assert rows[1:] == [
        ["msg-1", "pa", sid, m, "Alice", "false", "false", "TEXT_MESSAGE", 'hello, "world" 👋',
         iso(b + timedelta(seconds=60))],
        ["msg-2", "pb", sid, m, "Bob, Jr.", "true", "true", "TEXT_MESSAGE",
         "line1\r\nline2 (edited)", iso(b + timedelta(seconds=120))],
        ["msg-3", "pa", sid, m, "Alice", "false", "false", "TEXT_MESSAGE",
         "=SUM(A1:A2) 中文 עברית", iso(b + timedelta(seconds=150))],
        ["msg-4", "pb", sid, m, "Bob, Jr.", "false", "false", "IMAGE_MESSAGE",
         "https://example.com/cat.png", iso(b + timedelta(seconds=240))],
    ]  # fmt: skip
    # Unchanged chat: the same file is served again, not rebuilt.
    again = client.realtime_kit.sessions.get_session_chat(
        sid, account_id=ACCOUNT, app_id=scenario.app
    )
    assert again.data is not None
    assert urlsplit(again.data.chat_download_url).path == urlsplit(url).path


def test_chat_rebuilt_when_chat_changes(server: Any) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    sc = build(app)
    ingest(server, app, sc.events)
    reader = sdk(server, server.token(ACCOUNT, "read", app=app))
    sid = session_of(reader, sc, sc.meeting)
    first = reader.realtime_kit.sessions.get_session_chat(sid, account_id=ACCOUNT, app_id=app)
    late = _chat("c5", sc.meeting, sc.start + timedelta(seconds=300), "pc", "msg-5", payload="late")
    ingest(server, app, [late])
    second = reader.realtime_kit.sessions.get_session_chat(sid, account_id=ACCOUNT, app_id=app)
    assert first.data is not None and second.data is not None
    assert (
        urlsplit(first.data.chat_download_url).path != urlsplit(second.data.chat_download_url).path
    )
    rows = list(
        csv.reader(
            io.StringIO(
                download(second.data.chat_download_url).content.decode("utf-8-sig"), newline=""
            )
        )
    )
    assert [r[0] for r in rows[1:]] == ["msg-1", "msg-2", "msg-3", "msg-4", "msg-5"]
    assert rows[-1][1:5] == ["pc", sid, sc.meeting, ""]  # a sender without a name
    # The old link keeps working until it expires (its file is kept as long as a link lives).
    assert download(first.data.chat_download_url).status_code == 200


def test_no_chat_and_unknown_session_are_404(client: Cloudflare, scenario: Scenario) -> None:
    sid = session_of(client, scenario, scenario.bare_meeting)
    s = client.realtime_kit.sessions
    with pytest.raises(cloudflare.NotFoundError, match="has no chat messages"):
        s.get_session_chat(sid, account_id=ACCOUNT, app_id=scenario.app)
    with pytest.raises(cloudflare.NotFoundError, match="has no transcript"):
        s.get_session_transcripts(sid, account_id=ACCOUNT, app_id=scenario.app)
    with pytest.raises(cloudflare.NotFoundError, match="has no transcript"):
        s.generate_summary_of_transcripts(sid, account_id=ACCOUNT, app_id=scenario.app)
    with pytest.raises(cloudflare.NotFoundError, match="No session found"):
        s.get_session_chat(str(uuid.uuid4()), account_id=ACCOUNT, app_id=scenario.app)


EXPECTED_CUES = [  # (start ms, end ms, speaker, text) worked out by hand
    (10_000, 14_000, "Alice", "Hello everyone, I will send the notes by Friday."),
    (12_000, 17_000, "Bob, Jr.", "We decided to ship the release on Monday."),  # +5 s cap
    (20_000, 22_000, "pc", "Sounds good to me."),  # next start of any speaker
    (22_000, 27_000, "Alice", "Let's <decide> & ship --> now"),  # last: +5 s
]


def transcript(client: Cloudflare, sc: Scenario, sid: str, fmt: str) -> tuple[Any, httpx.Response]:
    resp = client.realtime_kit.sessions.get_session_transcripts(
        sid,
        account_id=ACCOUNT,
        app_id=sc.app,
        format=fmt,  # type: ignore[arg-type]
    )
    assert resp.data is not None and resp.data.session_id == sid
    return resp.data, download(resp.data.transcript_download_url)


def test_transcript_csv(client: Cloudflare, scenario: Scenario) -> None:
    sid = session_of(client, scenario, scenario.meeting)
    data, resp = transcript(client, scenario, sid, "CSV")
    assert resp.headers["content-type"].startswith("text/csv")
    assert data.transcript_download_url_expiry == iso(
        datetime.fromtimestamp(expiry_of(data.transcript_download_url) / 1000, UTC)
    )
    lines = resp.text.splitlines()
    assert (
        lines[0]
        == '"10000","pa","u-a","c-a","Alice","Hello everyone, I will send the notes by Friday."'
    )
    rows = list(csv.reader(io.StringIO(resp.text, newline="")))
    assert [(int(r[0]), r[1], r[4], r[5]) for r in rows] == [
        (start, peer, name, text)
        for (start, _, name, text), peer in zip(
            EXPECTED_CUES, ["pa", "pb", "pc", "pa"], strict=True
        )
    ]
    assert rows[1][2:4] == ["u-b", ""] and rows[2][2:4] == ["", ""]


def test_transcript_json(client: Cloudflare, scenario: Scenario) -> None:
    sid = session_of(client, scenario, scenario.meeting)
    _, resp = transcript(client, scenario, sid, "JSON")
    assert resp.headers["content-type"].startswith("application/json")
    items = json.loads(resp.content)
    assert [(i["startTime"], i["endTime"], i["sentence"]) for i in items] == [
        (a, b, t) for a, b, _, t in EXPECTED_CUES
    ]
    b = scenario.start
    assert items[0]["peerData"] == {
        "id": "pa", "userId": "u-a", "displayName": "Alice", "cpi": "c-a",
        "joinedAt": iso(b), "leftAt": iso(b + timedelta(minutes=60)),
    }  # fmt: skip
    assert items[2]["peerData"]["displayName"] == ""


def test_transcript_srt_parses(client: Cloudflare, scenario: Scenario) -> None:
    sid = session_of(client, scenario, scenario.meeting)
    _, resp = transcript(client, scenario, sid, "SRT")
    cues = list(srt.parse(resp.text))
    assert [
        (
            c.index,
            c.start // timedelta(milliseconds=1),
            c.end // timedelta(milliseconds=1),
            c.content,
        )
        for c in cues
    ] == [(i + 1, a, b, f"{n}: {t}") for i, (a, b, n, t) in enumerate(EXPECTED_CUES)]


def test_transcript_vtt_parses(client: Cloudflare, scenario: Scenario) -> None:
    sid = session_of(client, scenario, scenario.meeting)
    _, resp = transcript(client, scenario, sid, "VTT")
    assert resp.headers["content-type"].startswith("text/vtt")
    captions = webvtt.from_buffer(io.StringIO(resp.text)).captions
    assert [(c.start_in_seconds * 1000 + int(c.start[-3:]), c.voice) for c in captions] == [
        (a, n) for a, _, n, _ in EXPECTED_CUES
    ]
    assert "<v Alice>Let&#39;s" not in resp.text
    assert "<v Alice>Let's &lt;decide&gt; &amp; ship --&gt; now" in resp.text


def test_transcript_format_any_case_and_bad_format(
    server: Any, client: Cloudflare, scenario: Scenario
) -> None:
    sid = session_of(client, scenario, scenario.meeting)
    token = server.token(ACCOUNT, "read", app=scenario.app)
    url = f"{server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{scenario.app}/sessions/{sid}/transcript"
    headers = {"Authorization": f"Bearer {token}"}
    lower = httpx.get(url, params={"format": "srt"}, headers=headers, timeout=30)
    assert lower.status_code == 200, lower.text
    assert ".srt?" in lower.json()["data"]["transcript_download_url"]
    bad = httpx.get(url, params={"format": "docx"}, headers=headers, timeout=30)
    assert bad.status_code == 400
    assert "CSV, JSON, SRT, VTT" in bad.json()["error"]["message"]


def test_tampered_links_are_refused(client: Cloudflare, scenario: Scenario) -> None:
    sid = session_of(client, scenario, scenario.meeting)
    chat = client.realtime_kit.sessions.get_session_chat(
        sid, account_id=ACCOUNT, app_id=scenario.app
    )
    assert chat.data is not None
    url = chat.data.chat_download_url
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    sig = query["signature"][0]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    exp = query["expires"][0]
    cases = {
        "signature": f"{base}?expires={exp}&signature={flipped}",
        "expiry": f"{base}?expires={int(exp) + 1}&signature={sig}",
        "path": f"{base[:-5]}X.csv?expires={exp}&signature={sig}",
        "missing": base,
    }
    for what, bad in cases.items():
        resp = httpx.get(bad, timeout=30)
        assert resp.status_code == 403, what
        assert "new link" in resp.json()["error"]["message"], what
        assert "msg-1" not in resp.text


def test_links_and_files_expire_with_retention(tmp_path: Path) -> None:
    """The old session's files expire 30 minutes from now; a second server whose clock runs an
    hour ahead (RTK_TEST_CLOCK_OFFSET) sees them expired. Its own database and data directory:
    the later clock's upkeep must not purge other tests' files."""
    scenario = build(f"app-{uuid.uuid4().hex[:8]}")
    with own_database(tmp_path) as url:
        with running_server(tmp_path, url) as now:
            ingest(now, scenario.app, scenario.events)
            token = now.token(ACCOUNT, "read", app=scenario.app)
            client = sdk(now, token)
            sid = session_of(client, scenario, scenario.old_meeting)
            chat = client.realtime_kit.sessions.get_session_chat(
                sid, account_id=ACCOUNT, app_id=scenario.app
            )
            assert chat.data is not None
            link = chat.data.chat_download_url
            retention_end = ms(scenario.old_ended) + WEEK_MS
            # The link never outlives the file: it expires at the retention end (whole seconds).
            assert expiry_of(link) == retention_end - retention_end % 1000
            assert chat.data.chat_download_url_expiry == iso(
                datetime.fromtimestamp((retention_end - retention_end % 1000) / 1000, UTC)
            )
            assert download(link).text.count("\n") == 2
        with running_server(tmp_path, url, RTK_TEST_CLOCK_OFFSET="1h") as later:
            moved = later.base_url + link.removeprefix(now.base_url)
            expired = httpx.get(moved, timeout=30)
            assert expired.status_code == 403, expired.text
            assert "expired at" in expired.json()["error"]["message"]
            with pytest.raises(cloudflare.NotFoundError, match="expired"):
                sdk(later, token).realtime_kit.sessions.get_session_chat(
                    sid, account_id=ACCOUNT, app_id=scenario.app
                )


def test_head_answers_like_get_without_a_body(client: Cloudflare, scenario: Scenario) -> None:
    sid = session_of(client, scenario, scenario.meeting)
    for fmt, content_type in [("VTT", "text/vtt"), ("SRT", "application/x-subrip")]:
        data, got = transcript(client, scenario, sid, fmt)
        url = data.transcript_download_url
        head = httpx.head(url, timeout=30)
        assert head.status_code == 200, head.text
        assert head.content == b""
        assert head.headers["content-type"] == f"{content_type}; charset=utf-8"
        for name in ("content-type", "content-length", "content-disposition"):
            assert head.headers[name] == got.headers[name], name
        assert int(head.headers["content-length"]) == len(got.content)
    tampered = httpx.head(url.replace("signature=", "signature=0"), timeout=30)
    assert tampered.status_code == 403 and tampered.content == b""


def test_summary_lifecycle(server: Any, client: Cloudflare, scenario: Scenario) -> None:
    sid = session_of(client, scenario, scenario.meeting)
    s = client.realtime_kit.sessions
    with pytest.raises(cloudflare.NotFoundError, match="no summary; POST to generate one"):
        s.get_session_summary(sid, account_id=ACCOUNT, app_id=scenario.app)
    started = s.generate_summary_of_transcripts(sid, account_id=ACCOUNT, app_id=scenario.app)
    assert started.data is not None
    assert (started.data.session_id, started.data.status) == (sid, "PROCESSING")
    repeat = s.generate_summary_of_transcripts(sid, account_id=ACCOUNT, app_id=scenario.app)
    assert repeat.data is not None and repeat.data.status in {"PROCESSING", "COMPLETED"}
    data = wait_for_summary(client, scenario, sid)
    assert data.session_id == sid
    assert data.summary_download_url_expiry == iso(
        datetime.fromtimestamp(expiry_of(data.summary_download_url) / 1000, UTC)
    )
    resp = download(data.summary_download_url)
    assert f'filename="summary-{sid}.md"' in resp.headers["content-disposition"]
    text = resp.text
    assert "over about 60 minutes" in text  # the session's length; people talked for 22 s
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == ["## Meeting Summary", "### Key Discussion Points", "### Action Items",
                        "### Decisions Made"]  # fmt: skip
    assert "Friday" in text.split("### Action Items")[1].split("###")[0]
    assert "Monday" in text.split("### Decisions Made")[1]
    assert len(text.split()) <= 500 + 20
    done = s.generate_summary_of_transcripts(sid, account_id=ACCOUNT, app_id=scenario.app)
    assert done.data is not None and done.data.status == "COMPLETED"
    # A changed transcript gets a new summary; the previous one is served meanwhile.
    late = _segment("s5", scenario.meeting, scenario.start + timedelta(seconds=40), "pb",
                    "Action item: Bob will book the room.")  # fmt: skip
    ingest(server, scenario.app, [late])
    again = s.generate_summary_of_transcripts(sid, account_id=ACCOUNT, app_id=scenario.app)
    assert again.data is not None and again.data.status == "PROCESSING"
    deadline = time.monotonic() + 60
    while (
        "book the room"
        not in download(wait_for_summary(client, scenario, sid).summary_download_url).text
    ):
        assert time.monotonic() < deadline, "the new summary did not replace the old one"
        time.sleep(0.3)


def test_summary_post_needs_admin(server: Any, scenario: Scenario, client: Cloudflare) -> None:
    sid = session_of(client, scenario, scenario.meeting)
    reader = sdk(server, server.token(ACCOUNT, "read", app=scenario.app))
    with pytest.raises(cloudflare.PermissionDeniedError):
        reader.realtime_kit.sessions.generate_summary_of_transcripts(
            sid, account_id=ACCOUNT, app_id=scenario.app
        )
