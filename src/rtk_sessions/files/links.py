"""Which Host a download link may be built from (docs/security.md, "Host header").

Links are absolute URLs. With RTK_PUBLIC_URL set they are built from it and the request's
Host header is never consulted. Without it they take the scheme and host the request came
to, so the Host must be one the operator expects: a forged Host would otherwise make the API
hand out links to someone else's server.
"""

from __future__ import annotations

import re

from rtk_sessions.config import Settings, split_list

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_ANY_ADDRESS = ("", "0.0.0.0", "::")
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?")


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """RTK_ALLOWED_HOSTS, or the loopback names and the address `serve` binds to."""
    configured = split_list(settings.allowed_hosts)
    if configured:
        return frozenset(h.lower().strip("[]") for h in configured)
    bound = () if settings.host in _ANY_ADDRESS else (settings.host.lower().strip("[]"),)
    return frozenset((*LOOPBACK_NAMES, *bound))


def host_name(header: str) -> str | None:
    """The name in a Host header (port and IPv6 brackets removed), or None if malformed."""
    match = _HOST.fullmatch(header.strip())
    return match.group(1).strip("[]").lower() if match else None


def host_allowed(header: str, allowed: frozenset[str]) -> bool:
    name = host_name(header)
    return name is not None and ("*" in allowed or name in allowed)
