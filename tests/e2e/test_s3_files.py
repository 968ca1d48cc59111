"""Files in an S3-compatible bucket: a real moto server process, a real rtk server using it,
the official SDK asking for links, and the presigned URLs fetched over HTTP.

moto does not enforce presigned expiry, so the URL's signature and expiry parameters are
asserted instead, and the `*_expiry` field must equal X-Amz-Date + X-Amz-Expires exactly.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from files_scenario import ACCOUNT, build, ingest, iso, sdk, session_of, wait_for_summary
from support import running_server, s3_bucket

pytestmark = pytest.mark.e2e

BUCKET = "rtk-files"
FAKE_KEYS = {"RTK_S3_ACCESS_KEY_ID": "testing", "RTK_S3_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_bucket(BUCKET) as endpoint:
        yield endpoint


def presigned_expiry_ms(url: str) -> int:
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Signature"][0]
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return int((signed + timedelta(seconds=int(query["X-Amz-Expires"][0]))).timestamp() * 1000)


def test_chat_and_summary_from_s3(tmp_path: Path, database_url: str, s3_endpoint: str) -> None:
    settings = {
        "RTK_BLOB_URL": f"s3://{BUCKET}/rtk",
        "RTK_S3_ENDPOINT_URL": s3_endpoint,
        "RTK_S3_PATH_STYLE": "true",
        # Its own queue: the shared test server (local files) must not run its jobs.
        "RTK_JOBS_QUEUE": f"rtk-test-{uuid.uuid4().hex[:8]}",
        **FAKE_KEYS,
    }
    with running_server(tmp_path, database_url, **settings) as srv:
        sc = build(f"app-{uuid.uuid4().hex[:8]}")
        ingest(srv, sc.app, sc.events)
        client = sdk(srv, srv.token(ACCOUNT, "read", "admin", app=sc.app))
        sid = session_of(client, sc, sc.meeting)
        before = int(time.time() * 1000)
        chat = client.realtime_kit.sessions.get_session_chat(sid, account_id=ACCOUNT, app_id=sc.app)
        after = int(time.time() * 1000)
        assert chat.data is not None
        url = chat.data.chat_download_url
        assert url.startswith(f"{s3_endpoint}/{BUCKET}/rtk/chat/")
        expiry = presigned_expiry_ms(url)
        # RTK_LINK_TTL = 1 h from the server's "now", in whole seconds (rounded down)
        assert before + 3_600_000 - 1000 < expiry <= after + 3_600_000
        assert chat.data.chat_download_url_expiry == iso(datetime.fromtimestamp(expiry / 1000, UTC))
        resp = httpx.get(url, timeout=30)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("text/csv")
        assert f'filename="chat-{sid}.csv"' in resp.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"), newline="")))
        assert [r[0] for r in rows[1:]] == ["msg-1", "msg-2", "msg-3", "msg-4"]
        # The service does not serve S3 files itself.
        assert (
            httpx.get(f"{srv.base_url}/files/{urlsplit(url).path}", timeout=30).status_code == 404
        )

        # The old session's link is capped at its retention end, not the 1 h TTL.
        old = session_of(client, sc, sc.old_meeting)
        capped = client.realtime_kit.sessions.get_session_chat(
            old, account_id=ACCOUNT, app_id=sc.app
        )
        assert capped.data is not None
        end = int(sc.old_ended.timestamp() * 1000) + 7 * 86_400_000
        assert presigned_expiry_ms(capped.data.chat_download_url) <= end

        client.realtime_kit.sessions.generate_summary_of_transcripts(
            sid, account_id=ACCOUNT, app_id=sc.app
        )
        data = wait_for_summary(client, sc, sid)
        summary = httpx.get(data.summary_download_url, timeout=30)
        assert summary.status_code == 200 and "## Meeting Summary" in summary.text
        assert data.summary_download_url_expiry == iso(
            datetime.fromtimestamp(presigned_expiry_ms(data.summary_download_url) / 1000, UTC)
        )
