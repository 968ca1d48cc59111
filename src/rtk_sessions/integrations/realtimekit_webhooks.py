"""Taking in one RealtimeKit webhook delivery (docs/integrations.md).

Order matters: the app and its key first (404 without RealtimeKit settings), the signature
over the raw body next (401, nothing parsed or stored), then the delivery's duplicates, and
only then the JSON. The events, the download intent and the delivery's keys commit in one
transaction, so a 200 means all of it is stored and a retry after a failure redoes all of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec

from rtk_sessions.ingest.service import accept, check_batch
from rtk_sessions.integrations import repo
from rtk_sessions.integrations import webhook_repo as deliveries
from rtk_sessions.integrations.realtimekit_downloads import enqueue_download
from rtk_sessions.integrations.realtimekit_events import meaning
from rtk_sessions.integrations.realtimekit_keys import signed_by_app
from rtk_sessions.integrations.repo import REALTIMEKIT, RealtimeKitSettings
from rtk_sessions.integrations.settings import configured
from rtk_sessions.kit.errors import BadRequest, Unauthorized
from rtk_sessions.kit.state import AppState

MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Taken:
    """What became of a delivery: its events stored or duplicates, a download requested,
    or nothing (a repeated delivery, or an event type we take nothing from)."""

    accepted: int = 0
    duplicates: int = 0
    download: bool = False
    repeated: bool = False
    ignored: str | None = None


async def app_settings(
    state: AppState, account_id: str, app_id: str
) -> tuple[int, RealtimeKitSettings]:
    return await configured(state, account_id, app_id, "RealtimeKit", repo.get_realtimekit)


def delivery_keys(body: bytes, delivery_id: str | None) -> list[str]:
    """A delivery is known by RealtimeKit's delivery id and by its body (a retry may come
    with a new id but the same signed body)."""
    keys = ["body:" + hashlib.sha256(body).hexdigest()]
    if delivery_id:
        keys.append("id:" + hashlib.sha256(delivery_id.encode()).hexdigest())
    return keys


async def take_delivery(
    state: AppState,
    account_id: str,
    app_id: str,
    body: bytes,
    signature: str | None,
    delivery_id: str | None,
    now: int,
) -> Taken:
    """Verify, deduplicate and store one delivery; raises Unauthorized on a bad signature."""
    app_pk, settings = await app_settings(state, account_id, app_id)
    if not signature:
        raise Unauthorized("the rtk-signature header is missing; RealtimeKit signs every webhook")
    if not await signed_by_app(state, app_pk, settings, body, signature):
        raise Unauthorized("the rtk-signature does not match the body and the app's public key")
    keys = delivery_keys(body, delivery_id)
    async with state.db.read() as conn:
        if await deliveries.seen_delivery(conn, app_pk, REALTIMEKIT, keys):
            return Taken(repeated=True)
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise BadRequest("the body is not JSON") from None
    found = meaning(payload, now)
    valid = check_batch(found.events, now) if found.events else []
    accepted = duplicates = 0
    download = found.download
    async with state.db.write() as conn:
        if await deliveries.seen_delivery(conn, app_pk, REALTIMEKIT, keys):
            return Taken(repeated=True)  # a twin delivery got here first
        if valid:
            result = await accept(
                conn, account_id, app_id, valid, now, state.settings.session_end_grace_ms
            )
            accepted, duplicates = result.accepted, result.duplicates
        if download is not None:
            await deliveries.request_download(
                conn, app_pk, download.session_id, download.kind, download.meeting_id,
                download.url, download.session_started_at, now,
            )  # fmt: skip
        await deliveries.record_delivery(conn, app_pk, REALTIMEKIT, keys, now)
    if download is not None:
        await enqueue_download(state, app_pk, account_id, app_id, download.session_id,
                               download.kind, now)  # fmt: skip
    return Taken(accepted, duplicates, download is not None, ignored=found.ignored)
