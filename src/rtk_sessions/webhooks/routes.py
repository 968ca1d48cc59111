"""The webhook management routes the SDK's `realtime_kit.webhooks` calls (docs/webhooks.md).

Admin only. The body is read and checked in the handler, after the token check, so that
401 and 403 come before a 400 about the body.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, Parameter

from rtk_sessions.auth.deps import admin_access
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.errors import BadRequest
from rtk_sessions.kit.http import error_responses, read_body_limited
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms, to_iso
from rtk_sessions.webhooks import service
from rtk_sessions.webhooks.keys import public_pem, signing_key
from rtk_sessions.webhooks.repo import WebhookRow

MAX_BODY = 64 * 1024
Q = Annotated[str | None, Parameter(required=False)]  # checked in the handler, after auth
ERRORS = error_responses(400, 401, 403, 404)


class WebhookOut(msgspec.Struct):
    id: str
    name: str
    url: str
    events: list[str]
    enabled: bool
    created_at: str
    updated_at: str
    # Ours: why deliveries stopped (a webhook failing for three days is disabled), else null.
    disabled_reason: str | None


class WebhookResponse(msgspec.Struct):
    data: WebhookOut
    success: bool = True


class WebhooksResponse(msgspec.Struct):
    data: list[WebhookOut]
    success: bool = True


def _out(row: WebhookRow) -> WebhookOut:
    return WebhookOut(
        row.id,
        row.name,
        row.url,
        list(row.event_names),
        row.enabled,
        to_iso(row.created_at),
        to_iso(row.updated_at),
        row.disabled_reason,
    )


async def _json_body(request: Request[Any, Any, Any]) -> Any:
    raw = await read_body_limited(request, MAX_BODY, "The request body")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise BadRequest(
            "the body is not valid JSON; send an object with name, url, events and enabled"
        ) from None


class WebhooksController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    dependencies = {"app": Provide(admin_access)}

    @post("/", operation_id="CreateWebhook", status_code=201, responses=ERRORS)
    async def create_webhook(
        self,
        request: Request[Any, Any, Any],
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
    ) -> WebhookResponse:
        """Subscribe a URL to events (admin). Body: {name, url, events[], enabled?}."""
        body = await _json_body(request)
        return WebhookResponse(_out(await service.create_webhook(rtk.db, app, body, now_ms())))

    @get("/", operation_id="GetWebhooks", responses=ERRORS)
    async def get_webhooks(
        self, rtk: NamedDependency[AppState], app: NamedDependency[AppRef]
    ) -> WebhooksResponse:
        """Every webhook of the app (admin), oldest first."""
        return WebhooksResponse([_out(r) for r in await service.list_webhooks(rtk.db, app)])

    @get("/{webhook_id:str}", operation_id="GetWebhookById", responses=ERRORS)
    async def get_webhook_by_id(
        self,
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
        webhook_id: FromPath[str],
    ) -> WebhookResponse:
        """One webhook (admin)."""
        return WebhookResponse(_out(await service.get_webhook(rtk.db, app, webhook_id)))

    @patch("/{webhook_id:str}", operation_id="EditWebhook", responses=ERRORS)
    async def edit_webhook(
        self,
        request: Request[Any, Any, Any],
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
        webhook_id: FromPath[str],
    ) -> WebhookResponse:
        """Change the fields given (admin); enabling a disabled webhook clears its failure."""
        body = await _json_body(request)
        row = await service.change_webhook(rtk.db, app, webhook_id, body, now_ms(), replace=False)
        return WebhookResponse(_out(row))

    @put("/{webhook_id:str}", operation_id="ReplaceWebhook", responses=ERRORS)
    async def replace_webhook(
        self,
        request: Request[Any, Any, Any],
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
        webhook_id: FromPath[str],
    ) -> WebhookResponse:
        """Set every field (admin): name, url and events required, enabled defaults to true."""
        body = await _json_body(request)
        row = await service.change_webhook(rtk.db, app, webhook_id, body, now_ms(), replace=True)
        return WebhookResponse(_out(row))

    @delete("/{webhook_id:str}", operation_id="DeleteWebhook", status_code=200, responses=ERRORS)
    async def delete_webhook(
        self,
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
        webhook_id: FromPath[str],
    ) -> WebhookResponse:
        """Remove a webhook (admin) with its delivery log; answers what was removed."""
        return WebhookResponse(_out(await service.delete_webhook(rtk.db, app, webhook_id)))


class DeliveryOut(msgspec.Struct):
    attempted_at: str
    event: str
    rtk_uuid: str
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str | None
    delivery_state: str  # pending (to be tried again), delivered or failed


class Paging(msgspec.Struct):
    total_count: int
    start_offset: int
    end_offset: int


class DeliveriesData(msgspec.Struct):
    deliveries: list[DeliveryOut]
    paging: Paging


class DeliveriesResponse(msgspec.Struct):
    data: DeliveriesData
    success: bool = True


class Redelivery(msgspec.Struct):
    rtk_uuid: str
    delivery_state: str


class RedeliveryResponse(msgspec.Struct):
    data: Redelivery
    success: bool = True


def _page_value(name: str, text: str | None, default: int, top: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= top:
        raise BadRequest(f"{name} must be a whole number from 1 to {top}")
    return int(text)


class WebhookDeliveriesController(Controller):
    """Our extension: what was sent to a webhook, and sending it again (docs/webhooks.md)."""

    path = "/webhooks/{webhook_id:str}/deliveries"
    tags = ["webhooks"]
    dependencies = {"app": Provide(admin_access)}

    @get("/", operation_id="GetWebhookDeliveries", responses=ERRORS)
    async def get_webhook_deliveries(
        self,
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
        webhook_id: FromPath[str],
        page_no: Q = None,
        per_page: Q = None,
    ) -> DeliveriesResponse:
        """Every attempt to deliver to this webhook, newest first (admin): time, event,
        rtk-uuid, attempt number, status code, latency, error."""
        page = _page_value("page_no", page_no, 1, 10**6)
        size = _page_value("per_page", per_page, 20, service.MAX_PAGE)
        log = await service.delivery_log(rtk.db, app, webhook_id, page, size)
        rows, total = log.attempts, log.total
        start = (page - 1) * size
        out = [
            DeliveryOut(
                to_iso(r.attempted_at), r.event, r.delivery_id, r.attempt, r.status_code,
                r.latency_ms, r.error, r.state,
            )
            for r in rows
        ]  # fmt: skip
        end = start + len(out) - 1 if out else start
        return DeliveriesResponse(DeliveriesData(out, Paging(total, start, end)))

    @post(
        "/{delivery_id:str}/redeliver",
        operation_id="RedeliverWebhookDelivery",
        status_code=202,
        responses=ERRORS,
    )
    async def redeliver(
        self,
        rtk: NamedDependency[AppState],
        app: NamedDependency[AppRef],
        webhook_id: FromPath[str],
        delivery_id: FromPath[str],
    ) -> RedeliveryResponse:
        """Send a delivery again with its rtk-uuid and fresh attempts (admin)."""
        await service.redeliver(rtk.db, app, webhook_id, delivery_id, now_ms())
        return RedeliveryResponse(Redelivery(delivery_id, "pending"))


class PublicKey(msgspec.Struct):
    publicKey: str


class PublicKeyResponse(msgspec.Struct):
    data: PublicKey
    success: bool = True
    message: str = ""


@get("/.well-known/webhooks.json", operation_id="WebhookPublicKey", tags=["webhooks"])
async def webhook_public_key(rtk: NamedDependency[AppState]) -> PublicKeyResponse:
    """The PEM public key that verifies every delivery's rtk-signature (no token needed)."""
    return PublicKeyResponse(PublicKey(public_pem(signing_key(rtk.settings.data_dir))))
