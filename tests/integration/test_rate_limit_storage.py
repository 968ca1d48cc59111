"""The rate-limit budgets against their real storages: memory, Redis, and a Redis that is
down (requests pass, one error is logged, not one per request)."""

from __future__ import annotations

import socket
import uuid

import pytest

from rtk_sessions.config import Settings
from rtk_sessions.kit.ratelimit import RateLimited, RateLimits


async def spend_until_limited(limits: RateLimits, token: str, budget: int) -> RateLimited:
    for _ in range(budget):
        await limits.spend(token, "read")
    with pytest.raises(RateLimited) as caught:
        await limits.spend(token, "read")
    return caught.value


@pytest.mark.parametrize("storage", ["", "redis://127.0.0.1:6379/0"])
async def test_budgets_in_each_storage(storage: str) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///budget-{uuid.uuid4().hex}.db",  # a key prefix of its own
        rate_limit_storage=storage,
        rate_limit_read="3/minute",
        auth_failure_limit="2/minute",
    )
    limits = RateLimits(settings)
    refused = await spend_until_limited(limits, "token-a", 3)
    assert refused.status == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    await limits.spend("token-b", "read")  # another token's budget
    await limits.spend("token-a", "admin")  # another permission's budget

    await limits.check_address("192.0.2.1")
    for _ in range(2):
        await limits.count_failure("192.0.2.1")
    with pytest.raises(RateLimited, match=r"failed authentications from 192\.0\.2\.1"):
        await limits.check_address("192.0.2.1")
    with pytest.raises(RateLimited):  # a failure that raced past the check: not answered
        await limits.count_failure("192.0.2.1")
    await limits.check_address("192.0.2.2")


async def test_a_storage_outage_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limits = RateLimits(
        Settings(
            rate_limit_storage=f"redis://:redis-pass@127.0.0.1:{port}/0", rate_limit_read="1/minute"
        )
    )
    for _ in range(3):
        await limits.spend("token", "read")
        await limits.count_failure("192.0.2.1")
        await limits.check_address("192.0.2.1")
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "not limited" in errors[0].getMessage()
    assert "redis-pass" not in caplog.text
