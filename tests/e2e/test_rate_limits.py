"""Rate limits through real server processes and the official SDK: failed authentications per
client address, requests per token, 429 with Retry-After in the error envelope, and one budget
for several processes that share a Redis.

The first server trusts 127.0.0.1 as a reverse proxy, so each test speaks for a client address
of its own in X-Forwarded-For and the tests cannot use up each other's budgets.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import Server, own_database, running_server

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-limits"
FAILURES = 5
WINDOW_S = 4


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Server]:
    settings = {
        "RTK_AUTH_FAILURE_LIMIT": f"{FAILURES}/{WINDOW_S} seconds",
        "RTK_RATE_LIMIT_READ": "3/minute",
        "RTK_TRUSTED_PROXIES": "127.0.0.1",
        "RTK_JOB_WORKERS": "0",
    }
    with running_server(tmp_path_factory.mktemp("limits"), database_url, **settings) as srv:
        yield srv


def sessions_url(srv: Server, app: str) -> str:
    return f"{srv.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{app}/sessions"


def sdk(srv: Server, token: str, client_address: str, retries: int = 0) -> cloudflare.Cloudflare:
    return cloudflare.Cloudflare(
        api_token=token,
        base_url=f"{srv.base_url}/client/v4",
        max_retries=retries,
        default_headers={"X-Forwarded-For": client_address},
    )


def get(srv: Server, app: str, token: str, client_address: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if client_address:
        headers["X-Forwarded-For"] = client_address
    return httpx.get(sessions_url(srv, app), headers=headers, timeout=30)


def assert_limited(resp: httpx.Response, window_s: int) -> None:
    """429 in the RTK envelope, with Retry-After in whole seconds within the window."""
    assert resp.status_code == 429, resp.text
    assert 1 <= int(resp.headers["retry-after"]) <= window_s
    body = resp.json()
    assert body["success"] is False and body["error"]["code"] == 429
    assert body["errors"][0]["code"] == 429 and "retry after" in body["error"]["message"]


def wrong(token: str) -> str:
    return token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")


def test_failed_authentications_block_the_address(limited: Server) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    token = limited.token(ACCOUNT, "read", app=app)
    attacker, neighbour = "198.51.100.7", "198.51.100.8"
    for _ in range(FAILURES):
        assert get(limited, app, wrong(token), attacker).status_code == 401
    assert_limited(get(limited, app, wrong(token), attacker), WINDOW_S)
    # While blocked, even the right secret is not looked at: guessing gains nothing.
    blocked = get(limited, app, token, attacker)
    assert_limited(blocked, WINDOW_S)
    assert "failed authentications" in blocked.json()["error"]["message"]
    assert get(limited, app, token, neighbour).status_code == 200  # per address
    with pytest.raises(cloudflare.RateLimitError):
        sdk(limited, token, attacker).realtime_kit.sessions.get_sessions(app, account_id=ACCOUNT)
    # The SDK retries a 429 after Retry-After: by then the oldest failure has left the window,
    # so its retry is judged again (401). Retrying on its own shorter backoff would meet 429.
    with pytest.raises(cloudflare.AuthenticationError):
        sdk(limited, wrong(token), attacker, retries=1).realtime_kit.sessions.get_sessions(
            app, account_id=ACCOUNT
        )


def test_concurrent_guesses_get_no_more_answers_than_the_budget(limited: Server) -> None:
    """Requests in flight together all pass the check made before the token lookup; those
    whose failure no longer fits the budget must get 429, not their 401."""
    app = f"app-{uuid.uuid4().hex[:8]}"
    token = limited.token(ACCOUNT, "read", app=app)
    attacker = "198.51.100.30"
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        statuses = list(
            pool.map(lambda i: get(limited, app, f"{token[:-6]}{i:06d}", attacker).status_code,
                     range(48))
        )  # fmt: skip
    windows = int((time.monotonic() - started) // WINDOW_S) + 1  # each frees FAILURES answers
    assert set(statuses) <= {401, 429}
    assert FAILURES <= statuses.count(401) <= FAILURES * windows, statuses


def test_each_token_has_a_request_budget(limited: Server) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    address = "198.51.100.20"
    spender = sdk(limited, limited.token(ACCOUNT, "read", app=app), address)
    for _ in range(3):  # RTK_RATE_LIMIT_READ = 3/minute
        spender.realtime_kit.sessions.get_sessions(app, account_id=ACCOUNT)
    with pytest.raises(cloudflare.RateLimitError) as caught:
        spender.realtime_kit.sessions.get_sessions(app, account_id=ACCOUNT)
    assert_limited(caught.value.response, 60)
    assert "RTK_RATE_LIMIT_READ" in caught.value.response.json()["error"]["message"]
    # Another token of the same app and address has its own budget.
    other = sdk(limited, limited.token(ACCOUNT, "read", app=app), address)
    assert other.realtime_kit.sessions.get_sessions(app, account_id=ACCOUNT).success


def refusals(srv: Server) -> dict[str, float]:
    scrape = httpx.get(f"{srv.base_url}/metrics", timeout=30).text
    return {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(scrape)
        if family.name == "rtk_rate_limit_refusals"
        for sample in family.samples
        if sample.name == "rtk_rate_limit_refusals_total"
    }


def test_refusals_are_counted_in_the_metrics(limited: Server) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    token = limited.token(ACCOUNT, "read", app=app)
    before = refusals(limited)
    for _ in range(FAILURES):
        get(limited, app, wrong(token), "198.51.100.40")
    assert_limited(get(limited, app, wrong(token), "198.51.100.40"), WINDOW_S)
    for _ in range(4):  # RTK_RATE_LIMIT_READ = 3/minute
        get(limited, app, token, "198.51.100.41")
    after = refusals(limited)
    assert after.get("auth_failures", 0) - before.get("auth_failures", 0) >= 1, after
    assert after.get("read", 0) - before.get("read", 0) == 1, after


def test_processes_sharing_redis_share_one_budget(tmp_path: Path) -> None:
    """Two servers, one database, one Redis: the budgets are spent across both. Neither trusts
    a proxy, so a forged X-Forwarded-For does not buy a fresh address either."""
    settings: dict[str, Any] = {
        "RTK_RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379/0",
        "RTK_RATE_LIMIT_READ": "4/minute",
        "RTK_AUTH_FAILURE_LIMIT": "4/minute",
        "RTK_JOB_WORKERS": "0",
    }
    app = f"app-{uuid.uuid4().hex[:8]}"
    with (
        own_database(tmp_path) as url,
        running_server(tmp_path, url, **settings) as first,
        running_server(tmp_path, url, **settings) as second,
    ):
        token = first.token(ACCOUNT, "read", app=app)
        for srv in (first, second, first, second):
            assert get(srv, app, token).status_code == 200
        assert_limited(get(second, app, token), 60)
        assert_limited(get(first, app, token), 60)

        other = first.token(ACCOUNT, "read", app=app)
        for srv in (first, second, first, second):
            assert get(srv, app, wrong(other)).status_code == 401
        assert_limited(get(second, app, other), 60)
        assert_limited(get(first, app, other, client_address="203.0.113.9"), 60)


def test_forged_livekit_webhooks_count_as_failed_authentications(
    limited: Server, tmp_path: Path
) -> None:
    """A webhook that fails verification spends the address's budget like a wrong token."""
    from google.protobuf.json_format import MessageToJson
    from livekit import api

    app, key, secret = f"app-{uuid.uuid4().hex[:8]}", "APIlimits", "s" * 40
    (tmp_path / "secret").write_text(secret)
    limited.cli("app", "set-livekit", "--account", ACCOUNT, "--app", app, "--api-key", key,
                "--api-secret-file", str(tmp_path / "secret"))  # fmt: skip
    event = api.WebhookEvent(event="room_started", id="EV_1", created_at=int(time.time()),
                             room=api.Room(sid="RM_1", name="r"))  # fmt: skip
    body = MessageToJson(event, indent=None).encode()
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()

    def send(secret_used: str, address: str) -> httpx.Response:
        token = api.AccessToken(key, secret_used).with_sha256(sha).to_jwt()
        return httpx.post(
            f"{limited.base_url}/integrations/livekit/v1/accounts/{ACCOUNT}/apps/{app}",
            content=body,
            headers={"Authorization": token, "Content-Type": "application/webhook+json",
                     "X-Forwarded-For": address},
            timeout=30,
        )  # fmt: skip

    forger, livekit_server = "198.51.100.40", "198.51.100.41"
    for _ in range(FAILURES):
        assert send("f" * 40, forger).status_code == 401
    assert_limited(send("f" * 40, forger), WINDOW_S)
    assert_limited(send(secret, forger), WINDOW_S)  # while blocked, not even looked at
    assert send(secret, livekit_server).status_code == 200
