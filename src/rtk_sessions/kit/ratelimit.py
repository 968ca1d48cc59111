"""Request budgets: failed authentications per client address, requests per token.

Counted by the `limits` library with its moving window ("at most N in any period of that
length"): in this process's memory by default, in Redis when RTK_RATE_LIMIT_STORAGE names
one, so that every process of a deployment spends one budget (docs/security.md).

If the storage fails (Redis down) requests are let through and the failure is logged: the
limits protect the service, they must not take it down.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Awaitable

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from rtk_sessions.config import Settings, parse_rate
from rtk_sessions.kit import metrics
from rtk_sessions.kit.errors import RtkError
from rtk_sessions.kit.redact import redacted_logger

log = redacted_logger("rtk_sessions.ratelimit")

_STORAGE_TIMEOUT_S = 1.0


class RateLimited(RtkError):
    """429 with Retry-After: the seconds until the budget has room again."""

    status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(f"{message}; retry after {retry_after_s} s")
        self.headers = {"Retry-After": str(retry_after_s)}


def _storage(settings: Settings) -> Storage:
    if not settings.rate_limit_storage:
        return MemoryStorage()
    # Counters are keyed by the database they protect, like the job queue's name, so that
    # deployments sharing one Redis keep apart and processes sharing a database share.
    digest = hashlib.sha256(settings.effective_database_url.encode()).hexdigest()[:12]
    return RedisStorage(
        "async+" + settings.rate_limit_storage,
        implementation="redispy",
        key_prefix=f"rtk-sessions-limits-{digest}",
        socket_timeout=_STORAGE_TIMEOUT_S,
        socket_connect_timeout=_STORAGE_TIMEOUT_S,
    )


class RateLimits:
    """The budgets of one deployment; every method is one storage round trip."""

    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(_storage(settings))
        self._failures = parse_rate("RTK_AUTH_FAILURE_LIMIT", settings.auth_failure_limit)
        self._requests: dict[str, RateLimitItem | None] = {
            "read": parse_rate("RTK_RATE_LIMIT_READ", settings.rate_limit_read),
            "admin": parse_rate("RTK_RATE_LIMIT_ADMIN", settings.rate_limit_admin),
            "ingest": parse_rate("RTK_RATE_LIMIT_INGEST", settings.rate_limit_ingest),
        }
        self._storage_failing = False

    async def check_address(self, address: str) -> None:
        """429 while `address` has used up its failed authentications.

        Called before authenticating (refusals cost no database work) and again after a
        success: concurrent requests may all pass the first check while their failures fill
        the budget, and the outcome of such a raced request must not be shown either.
        """
        limit = self._failures
        if limit is not None and not await self._test(limit, "auth-failures", address):
            raise await self._address_refused(limit, address)

    async def count_failure(self, address: str) -> None:
        """Count a failed authentication; 429 instead of 401 if the budget was already full
        (the request raced past `check_address`), so no more guesses are answered than the
        budget allows."""
        limit = self._failures
        if limit is not None and not await self._hit(limit, "auth-failures", address):
            raise await self._address_refused(limit, address)

    async def _address_refused(self, limit: RateLimitItem, address: str) -> RateLimited:
        retry_after = await self._retry_after(limit, "auth-failures", address)
        metrics.rate_limited("auth_failures")
        return RateLimited(f"Too many failed authentications from {address}", retry_after)

    async def spend(self, token_id: str, permission: str) -> None:
        """Count one request of this token; 429 once its budget for `permission` is spent."""
        limit = self._requests.get(permission)
        if limit is not None and not await self._hit(limit, "requests", permission, token_id):
            metrics.rate_limited(permission)
            raise RateLimited(
                f"This token has used its {permission} requests ({limit}); "
                f"see RTK_RATE_LIMIT_{permission.upper()}",
                await self._retry_after(limit, "requests", permission, token_id),
            )

    async def _test(self, limit: RateLimitItem, *key: str) -> bool:
        """Whether the budget has room (nothing is counted)."""
        return await self._allowed(self._limiter.test(limit, *key))

    async def _hit(self, limit: RateLimitItem, *key: str) -> bool:
        """Count one against the budget; False (and not counted) when it is full."""
        return await self._allowed(self._limiter.hit(limit, *key))

    async def _allowed(self, answer: Awaitable[bool]) -> bool:
        try:
            allowed = await answer
        except Exception as exc:  # any storage failure: let the request through
            return self._storage_failed(exc)
        self._storage_failing = False
        return allowed

    async def _retry_after(self, limit: RateLimitItem, *key: str) -> int:
        """Whole seconds until the oldest counted request leaves the window (at least 1)."""
        try:
            stats = await self._limiter.get_window_stats(limit, *key)
        except Exception as exc:  # the storage failed between two calls: a whole window
            self._storage_failed(exc)
            return limit.get_expiry()
        return max(1, math.ceil(stats.reset_time - time.time()))

    def _storage_failed(self, exc: Exception) -> bool:
        """Log once per outage (not per request), and allow."""
        if not self._storage_failing:
            log.error("rate-limit storage failed, requests are not limited: %r", exc)
        self._storage_failing = True
        return True
