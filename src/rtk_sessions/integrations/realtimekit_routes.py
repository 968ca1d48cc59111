"""`POST /integrations/realtimekit/v1/accounts/{account_id}/apps/{app_id}`: where a RealtimeKit
app's webhooks arrive (docs/integrations.md). No bearer token: the signature is the
authentication, and a failed one counts against the client address's failed-auth budget."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from rtk_sessions.auth.deps import client_address
from rtk_sessions.integrations.realtimekit_webhooks import MAX_BODY, take_delivery
from rtk_sessions.kit.errors import Unauthorized
from rtk_sessions.kit.http import error_responses, read_body_limited
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms


class WebhookTaken(msgspec.Struct):
    accepted: int
    duplicates: int
    download_requested: bool
    repeated_delivery: bool
    ignored_event: str | None


class WebhookResponse(msgspec.Struct):
    data: WebhookTaken
    success: bool = True


def _header(request: Request[Any, Any, Any], name: str) -> str | None:
    """RealtimeKit's `rtk-` header, else the legacy Dyte one."""
    headers = request.headers
    return headers.get(f"rtk-{name}") or headers.get(f"dyte-{name}")


@post(
    "/integrations/realtimekit/v1/accounts/{account_id:str}/apps/{app_id:str}",
    operation_id="RealtimeKitWebhook",
    tags=["integrations"],
    status_code=200,
    responses=error_responses(400, 401, 404, 413, 503),
)
async def realtimekit_webhook(
    request: Request[Any, Any, Any],
    rtk: NamedDependency[AppState],
    account_id: FromPath[str],
    app_id: FromPath[str],
) -> WebhookResponse:
    """Take in one signed RealtimeKit webhook: 200 once stored (or a repeat, or an event we
    take nothing from), 4xx for what a retry cannot fix, 5xx only for passing trouble."""
    now = now_ms()
    address = client_address(request)
    await rtk.limits.check_address(address)
    body = await read_body_limited(request, MAX_BODY, "The webhook body")
    try:
        taken = await take_delivery(
            rtk, account_id, app_id, body, _header(request, "signature"), _header(request, "uuid"),
            now,
        )  # fmt: skip
    except Unauthorized:
        await rtk.limits.count_failure(address)  # 429 instead once the budget is spent
        raise
    return WebhookResponse(
        WebhookTaken(
            taken.accepted, taken.duplicates, taken.download, taken.repeated, taken.ignored
        )
    )
