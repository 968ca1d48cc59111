"""Daywise analytics through the official SDK (strict): a call across midnight split between
two days, every day of the range present, and the 4xx answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import cloudflare
import httpx
import pytest

from files_scenario import iso, sdk
from support import Server

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-analytics"


def test_daywise_usage(server: Server) -> None:
    app, meeting = f"app-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=2
    )
    events = [
        # Two people from 23:30 to 00:30 (one leaves at 00:15): 30 + 30 min before midnight,
        # 30 + 15 after. A second session the next evening, 10 minutes.
        ("a", "peer.joined", midnight - timedelta(minutes=30), "pa"),
        ("b", "peer.joined", midnight - timedelta(minutes=30), "pb"),
        ("c", "peer.left", midnight + timedelta(minutes=15), "pb"),
        ("d", "peer.left", midnight + timedelta(minutes=30), "pa"),
        ("e", "peer.joined", midnight + timedelta(hours=20), "pc"),
        ("f", "peer.left", midnight + timedelta(hours=20, minutes=10), "pc"),
    ]
    body = [{"id": i, "type": t, "meeting_id": meeting, "occurred_at": iso(at), "peer_id": p}
            for i, t, at, p in events]  # fmt: skip
    token = server.token(ACCOUNT, "ingest", app=app)
    url = f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app}/events"
    posted = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert posted.status_code == 200, posted.text

    analytics = sdk(server, server.token(ACCOUNT, "read", app=app)).realtime_kit.analytics
    day = lambda d: (midnight + timedelta(days=d)).date().isoformat()  # noqa: E731
    got = analytics.get_org_analytics(app, account_id=ACCOUNT, start_date=day(-2), end_date=day(1))
    assert got.data is not None and got.data.session_stats is not None
    stats = got.data.session_stats
    assert got.data.recording_stats is None
    assert [(s.day, s.total_sessions, s.total_session_minutes) for s in stats.day_stats or []] == [
        (day(-2), 0, 0.0),
        (day(-1), 1, 60.0),
        (day(0), 1, 55.0),
        (day(1), 0, 0.0),
    ]
    assert (stats.sessions_count, stats.sessions_minutes_consumed) == (2, 115.0)
    # The sessions' own minutes agree.
    listed = sdk(server, server.token(ACCOUNT, "read", app=app)).realtime_kit.sessions
    minutes = [
        s.minutes_consumed for s in listed.get_sessions(app, account_id=ACCOUNT).data.sessions
    ]  # type: ignore[union-attr]
    assert sum(m or 0 for m in minutes) == 115.0
    # The default range: the last 30 days, today last.
    default = analytics.get_org_analytics(app, account_id=ACCOUNT).data
    assert default is not None and default.session_stats is not None
    days = [s.day for s in default.session_stats.day_stats or []]
    assert len(days) == 30 and days[-1] == datetime.now(UTC).date().isoformat()
    assert default.session_stats.sessions_count == 2

    for start, end, fix in [
        ("2026-02-01", "2026-01-01", "swap"),
        ("2024-01-01", "2025-06-01", "at most 366"),
        ("2026-13-01", None, "YYYY-MM-DD"),
    ]:
        with pytest.raises(cloudflare.BadRequestError) as refused:
            analytics.get_org_analytics(
                app, account_id=ACCOUNT, start_date=start, **({"end_date": end} if end else {})
            )
        assert fix in str(refused.value)
    other = sdk(server, server.token(ACCOUNT, "read", app="another-app")).realtime_kit.analytics
    with pytest.raises(cloudflare.PermissionDeniedError):
        other.get_org_analytics(app, account_id=ACCOUNT)
    with pytest.raises(cloudflare.AuthenticationError):
        sdk(server, "not-a-token").realtime_kit.analytics.get_org_analytics(app, account_id=ACCOUNT)
