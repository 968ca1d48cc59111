"""Request budgets: failed authentications per client address, requests per token.

Counted with a moving window ("at most N in any period of that length"): in this process's
memory by default (`MemoryWindows`), in Redis through the `limits` library when
RTK_RATE_LIMIT_STORAGE names one, so that every process of a deployment spends one budget
(docs/security.md).

If the storage fails (Redis down) requests are let through and the failure is logged: the
limits protect the service, they must not take it down.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Awaitable

from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.util import WindowStats

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


class MemoryWindows:
    """The moving window of `limits`' in-memory storage, without its costs on every request:
    that storage starts an expiry task after each hit, which hands every key's list to a
    worker thread, and it inserts each hit at the front of a list of up to N. Here each key
    is a queue of its hit times, oldest first, trimmed as it is read; keys whose hits have
    all left their window are dropped once a minute, so memory holds only budgets in use."""

    SWEEP_EVERY_S = 60.0

    def __init__(self) -> None:
        self._hits: dict[str, tuple[float, deque[float]]] = {}  # key -> (window s, hit times)
        self._next_sweep = 0.0

    @staticmethod
    def _key(limit: RateLimitItem, keys: tuple[str, ...]) -> str:
        return limit.key_for(*keys)

    def _live(self, limit: RateLimitItem, key: str, now: float) -> deque[float]:
        """The key's hits still inside the window, oldest first (an empty queue if none)."""
        entry = self._hits.get(key)
        if entry is None:
            return deque()
        hits, cutoff = entry[1], now - limit.get_expiry()
        while hits and hits[0] < cutoff:
            hits.popleft()
        return hits

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.SWEEP_EVERY_S
        for key in [
            k for k, (window, hits) in self._hits.items() if not hits or hits[-1] < now - window
        ]:
            del self._hits[key]

    def __len__(self) -> int:
        """Keys held (for tests: memory stays bounded by the budgets in use)."""
        return len(self._hits)

    async def test(self, limit: RateLimitItem, *keys: str) -> bool:
        return len(self._live(limit, self._key(limit, keys), time.time())) < limit.amount

    async def hit(self, limit: RateLimitItem, *keys: str) -> bool:
        now = time.time()
        self._sweep(now)
        key = self._key(limit, keys)
        hits = self._live(limit, key, now)
        if len(hits) >= limit.amount:
            return False
        if key not in self._hits:
            self._hits[key] = (float(limit.get_expiry()), hits)
        hits.append(now)
        return True

    async def get_window_stats(self, limit: RateLimitItem, *keys: str) -> WindowStats:
        now = time.time()
        hits = self._live(limit, self._key(limit, keys), now)
        oldest = hits[0] if hits else now
        return WindowStats(oldest + limit.get_expiry(), max(0, limit.amount - len(hits)))


def _limiter(settings: Settings) -> MemoryWindows | MovingWindowRateLimiter:
    if not settings.rate_limit_storage:
        return MemoryWindows()
    # Counters are keyed by the database they protect, like the job queue's name, so that
    # deployments sharing one Redis keep apart and processes sharing a database share.
    digest = hashlib.sha256(settings.effective_database_url.encode()).hexdigest()[:12]
    return MovingWindowRateLimiter(
        RedisStorage(
            "async+" + settings.rate_limit_storage,
            implementation="redispy",
            key_prefix=f"rtk-sessions-limits-{digest}",
            socket_timeout=_STORAGE_TIMEOUT_S,
            socket_connect_timeout=_STORAGE_TIMEOUT_S,
        )
    )


class RateLimits:
    """The budgets of one deployment; every method is one storage round trip."""

    def __init__(self, settings: Settings) -> None:
        self._limiter = _limiter(settings)
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
