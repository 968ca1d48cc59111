"""One delivery attempt on the wire, and what its outcome means for the next one.

The URL is checked where it points at every attempt (server-side request forgery,
docs/webhooks.md): every address its host resolves to must be public unless
RTK_WEBHOOK_ALLOW_PRIVATE, and the connection goes to one of those checked addresses, so a
name cannot resolve to a public address for the check and a private one for the connection.
Redirects are not followed. What is recorded of a failure names its class, never the URL,
an address or exception text.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

from rtk_sessions.kit.fetch import public_address

MAX_WAIT_MS = 6 * 3600 * 1000  # the longest backoff step
MAX_RETRY_AFTER_MS = 24 * 3600 * 1000
RETRIED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: `status` None when no answer came; `retry` when trying again
    can help; `retry_after_ms` when the receiver said how long to wait."""

    status: int | None
    latency_ms: int
    error: str | None
    retry: bool
    retry_after_ms: int | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def classify(status: int) -> tuple[str | None, bool]:
    """(error, retry) for a status: 2xx delivered; 408, 429 and 5xx retried; others final."""
    if 200 <= status < 300:
        return None, False
    if status in RETRIED_STATUSES or status >= 500:
        return f"HTTP {status}", True
    if 300 <= status < 400:
        return f"HTTP {status} (redirects are not followed)", False
    return f"HTTP {status}", False


def backoff_ms(attempt: int, base_ms: int, rng: random.Random) -> int:
    """Wait after failed attempt number `attempt` (1-based): base × 2^(attempt-1), at most
    6 h, minus up to 20% jitter so that many deliveries failing together spread out."""
    wait = min(base_ms * 2 ** (attempt - 1), MAX_WAIT_MS)
    return int(wait * (1 - 0.2 * rng.random()))


def retry_after_ms(value: str | None, now_ms: int) -> int | None:
    """A Retry-After header (seconds or an HTTP date) as a wait from now, at most a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = int(value) * 1000
    else:
        try:
            wait = int(parsedate_to_datetime(value).timestamp() * 1000) - now_ms
        except (TypeError, ValueError, OverflowError):
            return None
    return max(0, min(wait, MAX_RETRY_AFTER_MS))


class Refused(Exception):
    """The URL may not be delivered to (its host resolves to a non-public address)."""


async def _address(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = await asyncio.to_thread(
            socket.getaddrinfo, host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError):
        raise ConnectionError("the host name does not resolve") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise ConnectionError("the host name does not resolve")
    if not allow_private and not all(public_address(a) for a in addresses):
        raise Refused(
            "refused: the host resolves to a private, loopback or link-local address "
            "(RTK_WEBHOOK_ALLOW_PRIVATE=true allows it)"
        )
    return addresses[0]


async def post(
    url: str, body: bytes, headers: dict[str, str], timeout_s: float, allow_private: bool
) -> Outcome:
    """POST `body` to `url` once, within `timeout_s` from name lookup to the status line."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        async with asyncio.timeout(timeout_s):
            address = await _address(host, port, allow_private)
            response = await _send(parts, host, port, address, body, headers)
    except Refused as exc:
        return Outcome(None, took(), str(exc), retry=False)
    except TimeoutError:
        return Outcome(None, took(), f"no answer within {timeout_s:g} s", retry=True)
    except ConnectionError as exc:
        return Outcome(None, took(), str(exc), retry=True)
    except httpx.HTTPError as exc:
        return Outcome(None, took(), f"the request failed ({type(exc).__name__})", retry=True)
    error, retry = classify(response.status_code)
    wait = retry_after_ms(response.headers.get("retry-after"), int(time.time() * 1000))
    return Outcome(response.status_code, took(), error, retry, wait if retry else None)


async def _send(
    parts: SplitResult, host: str, port: int, address: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    scheme, path, query = parts.scheme, parts.path, parts.query
    netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    pinned = urlunsplit((scheme, netloc, path or "/", query, ""))
    host_header = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        host_header += f":{port}"
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    # The answer's body is not read: only its status counts.
    async with (
        httpx.AsyncClient(
            verify=ssl.create_default_context(), follow_redirects=False, trust_env=False
        ) as client,
        client.stream(
            "POST",
            pinned,
            content=body,
            headers={**headers, "Host": host_header, "Content-Type": "application/json"},
            extensions=extensions,
        ) as response,
    ):
        return response
