"""Pages for browsers (the API reference at /docs, the dashboard at /ui) load nothing from
another origin.

Their files are vendored into the package and served from /static (static/README.md), so a
self-hosted install without internet shows them whole; this Content-Security-Policy also
keeps the browser from contacting anyone else when a vendored script names an outside URL
(Redoc's footer fetches its maker's logo from a CDN), and forbids framing the pages.
"""

from __future__ import annotations

from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

# Inline scripts and styles: Litestar's Redoc page embeds the schema and `Redoc.init` inline.
# blob: workers: Redoc's search index.
REFERENCE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'"
)
# The dashboard's own pages run no inline script or style at all (their chart data are JSON
# blocks, which are not executed), and their forms post only to themselves.
DASHBOARD_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)


class SameOriginPages(ASGIMiddleware):
    """Adds a policy to the answers under each path prefix (the first prefix that matches)."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, policies: Iterable[tuple[str, str]]) -> None:
        self.policies = tuple(policies)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        path = scope["path"]
        policy = next((p for prefix, p in self.policies if path.startswith(prefix)), None)
        if policy is None:
            await next_app(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", []),
                    (b"content-security-policy", policy.encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await next_app(scope, receive, with_policy)
