"""Fetching a file from a URL someone else gave us (a webhook's download link, a key URL).

Such a URL is attacker-controlled input as far as the network is concerned (server-side
request forgery, docs/security.md): only https; the host's resolved addresses are checked
and one of them is connected to, so a name cannot resolve to a public address for the check
and to a private one for the connection; private, loopback, link-local and other non-public
addresses are refused unless RTK_FETCH_ALLOW_PRIVATE; redirects are not followed; the body
is capped (RTK_FETCH_MAX_BYTES) and the whole fetch has a deadline (RTK_FETCH_TIMEOUT).

Errors never carry the URL's query (signed links), only what failed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from rtk_sessions.config import Settings


class FetchError(Exception):
    """A fetch that failed; `permanent` when trying again cannot help (refused by policy, 4xx,
    too large), else a network failure, a timeout or a 5xx worth retrying."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class FetchPolicy:
    allow_private: bool
    ca_file: str
    max_bytes: int
    timeout_s: float

    @classmethod
    def of(cls, settings: Settings, max_bytes: int | None = None) -> FetchPolicy:
        return cls(
            settings.fetch_allow_private,
            settings.fetch_ca_file,
            settings.fetch_max_bytes if max_bytes is None else max_bytes,
            settings.fetch_timeout,
        )


def public_address(address: str) -> bool:
    """Whether an address is on the public internet: not private, loopback, link-local,
    multicast, reserved, unspecified or shared (CGNAT); IPv4-mapped IPv6 counts as its IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> tuple[str, int]:
    """(host, port) of an https URL without user info; a permanent FetchError otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError:
        raise FetchError("the URL is not valid", permanent=True) from None
    if parts.scheme != "https" or not parts.hostname:
        raise FetchError("only https:// URLs are fetched", permanent=True)
    if parts.username or parts.password:
        raise FetchError("URLs with a user name or password are not fetched", permanent=True)
    return parts.hostname, port


async def resolve(host: str, port: int, allow_private: bool) -> str:
    """One address of `host` to connect to, after checking every address it resolves to."""
    try:
        infos = await asyncio.to_thread(
            socket.getaddrinfo, host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError):
        raise FetchError("the host name does not resolve", permanent=False) from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise FetchError("the host name does not resolve", permanent=False)
    if not allow_private and not all(public_address(a) for a in addresses):
        raise FetchError(
            "the host resolves to a private, loopback or link-local address; such downloads "
            "are refused unless RTK_FETCH_ALLOW_PRIVATE=true",
            permanent=True,
        )
    return addresses[0]


def _ssl_context(ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


async def fetch(url: str, policy: FetchPolicy) -> bytes:
    """The body of a 200 answer to GET `url`, within the policy; FetchError otherwise."""
    host, port = check_url(url)
    try:
        async with asyncio.timeout(policy.timeout_s):
            address = await resolve(host, port, policy.allow_private)
            return await _get(url, host, port, address, policy)
    except TimeoutError:
        raise FetchError(
            f"no complete answer within {policy.timeout_s:g} s", permanent=False
        ) from None


async def _get(url: str, host: str, port: int, address: str, policy: FetchPolicy) -> bytes:
    parts = urlsplit(url)
    netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    pinned = urlunsplit(("https", netloc, parts.path or "/", parts.query, ""))
    host_header = f"[{host}]" if ":" in host else host
    if port != 443:
        host_header += f":{port}"
    try:
        async with (
            httpx.AsyncClient(
                verify=_ssl_context(policy.ca_file), follow_redirects=False, trust_env=False
            ) as client,
            client.stream(
                "GET",
                pinned,
                headers={"Host": host_header, "Accept-Encoding": "identity"},
                extensions={"sni_hostname": host},
            ) as response,
        ):
            status = response.status_code
            if status != 200:
                raise FetchError(
                    f"the server answered HTTP {status}",
                    permanent=400 <= status < 500 and status not in (408, 429),
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > policy.max_bytes:
                raise _too_large(policy)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > policy.max_bytes:
                    raise _too_large(policy)
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise FetchError(f"the download failed ({type(exc).__name__})", permanent=False) from None


def _too_large(policy: FetchPolicy) -> FetchError:
    return FetchError(
        f"the file is larger than {policy.max_bytes} bytes (RTK_FETCH_MAX_BYTES)", permanent=True
    )
