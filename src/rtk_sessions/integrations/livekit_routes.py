"""`POST /integrations/livekit/v1/accounts/{account_id}/apps/{app_id}`: LiveKit's webhooks
in, verified with the app's LiveKit API secret (docs/integrations.md)."""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from rtk_sessions.auth.deps import client_address
from rtk_sessions.ingest import service
from rtk_sessions.ingest.repo import count_pending
from rtk_sessions.ingest.schemas import VALID_EVENTS, IngestCounts, IngestResponse
from rtk_sessions.integrations import livekit, repo
from rtk_sessions.integrations.settings import configured
from rtk_sessions.kit import cpu
from rtk_sessions.kit.errors import Unauthorized, UnsupportedMedia
from rtk_sessions.kit.http import ErrorBody, read_body_limited
from rtk_sessions.kit.redact import redacted_logger
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms

log = redacted_logger("rtk_sessions.integrations.livekit")

_REFUSED = (
    "The LiveKit webhook could not be verified: its Authorization must be a JWT signed with "
    "the app's LiveKit API secret, issued by its API key, unexpired, whose sha256 claim "
    "matches the body"
)


async def _refuse(rtk: AppState, address: str, why: str) -> Unauthorized:
    """Count a failed verification against the address's budget (429 instead when full)."""
    log.warning("LiveKit webhook refused: %s", why)
    await rtk.limits.count_failure(address)
    return Unauthorized(_REFUSED)


@post(
    "/integrations/livekit/v1/accounts/{account_id:str}/apps/{app_id:str}",
    operation_id="ReceiveLiveKitWebhook",
    tags=["integrations"],
    status_code=200,
    responses={
        status: ResponseSpec(ErrorBody, description=meaning, generate_examples=False)
        for status, meaning in {
            400: "Signed, but the body is not a LiveKit WebhookEvent.",
            401: "Missing Authorization, or a token that is not signed with the app's LiveKit "
            "API secret, not issued by its API key, expired, or whose sha256 claim does not "
            "match the body.",
            404: "The app has no LiveKit settings (`rtk-sessions app set-livekit`).",
            413: "The body is larger than 1 MiB.",
            415: "The Content-Type is not application/webhook+json.",
            429: "Too many failed verifications from this address; Retry-After says when to "
            "try again.",
        }.items()
    },
)
async def receive_livekit_webhook(
    request: Request[Any, Any, Any],
    rtk: NamedDependency[AppState],
    account_id: FromPath[str],
    app_id: FromPath[str],
) -> IngestResponse:
    """A LiveKit webhook, verified as LiveKit signs it, stored as events; retries are
    duplicates, and events we do not use are answered 200 with nothing stored."""
    now = now_ms()
    address = client_address(request)
    await rtk.limits.check_address(address)
    authorization = request.headers.get("authorization")
    if not authorization:
        raise await _refuse(rtk, address, "no Authorization header")
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != livekit.CONTENT_TYPE:
        raise UnsupportedMedia(
            f"A LiveKit webhook has Content-Type {livekit.CONTENT_TYPE} "
            f"(got {content_type[:100]!r})"
        )
    body = await read_body_limited(request, livekit.MAX_BODY_BYTES, "The webhook body")
    app_pk, settings = await configured(rtk, account_id, app_id, "LiveKit", repo.get_livekit)
    try:
        valid = await cpu.run_list(
            cpu.REQUESTS,
            VALID_EVENTS,
            livekit.read_webhook,
            body,
            authorization,
            settings.api_key,
            settings.api_secret,
            now,
        )
    except livekit.NotVerified as exc:
        raise await _refuse(rtk, address, str(exc)) from None
    if not valid:  # a webhook we do not use: nothing to store
        async with rtk.db.read() as conn:
            return IngestResponse(IngestCounts(0, 0, await count_pending(conn, app_pk)))
    result = await service.accept_batch(rtk, account_id, app_id, valid, now)
    return IngestResponse(IngestCounts(result.accepted, result.duplicates, result.pending))
