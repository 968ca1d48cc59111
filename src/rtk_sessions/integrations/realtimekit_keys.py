"""RealtimeKit's webhook signatures: base64 RSA-SHA256 (PKCS#1 v1.5) over the raw body, checked
with the app's key, pinned or fetched from its key URL (docs/integrations.md).

A key fetched from the URL is cached in the app's settings. When a signature fails with a
fetched key, the key is fetched again (RealtimeKit may have rotated it), but at most once
every REFETCH_AFTER seconds per app and process, so forged requests cannot make the server
hammer the key URL.
"""

from __future__ import annotations

import base64
import binascii
import time

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from rtk_sessions.integrations import repo
from rtk_sessions.integrations.repo import RealtimeKitSettings
from rtk_sessions.integrations.settings import rsa_public_key
from rtk_sessions.kit.errors import BadRequest, Unavailable
from rtk_sessions.kit.fetch import FetchError, FetchPolicy, fetch
from rtk_sessions.kit.redact import redact_url, redacted_logger
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms

log = redacted_logger("rtk_sessions.integrations")
REFETCH_AFTER = 300.0  # seconds between fetches of one app's key after a failed signature
RETRY_FIRST_AFTER = 10.0  # seconds between tries while no key could be fetched yet
MAX_KEY_DOCUMENT = 64 * 1024
# App pk → time.monotonic() of the last fetch: while no key is cached, and after a failure.
_last_first: dict[int, float] = {}
_last_refetch: dict[int, float] = {}


def signature_ok(pem: str, body: bytes, signature_b64: str) -> bool:
    """Whether `signature_b64` is the key's RSA-SHA256 (PKCS#1 v1.5) signature of `body`."""
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
        rsa_public_key(pem).verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, binascii.Error, BadRequest):
        return False
    return True


def key_from_document(document: bytes) -> str:
    """The PEM in RealtimeKit's key document `{"success": true, "data": {"publicKey": ...}}`."""
    try:
        decoded = msgspec.json.decode(document)
        pem = decoded["data"]["publicKey"]
    except (msgspec.DecodeError, KeyError, TypeError):
        raise ValueError("the key document has no data.publicKey") from None
    if not isinstance(pem, str):
        raise ValueError("the key document's data.publicKey is not a text")
    rsa_public_key(pem)  # BadRequest (a ValueError's sibling) when it is no RSA key
    return pem.strip() + "\n"


async def _fetch_key(state: AppState, app_pk: int, url: str) -> str | None:
    """The key now at `url`, cached in the app's settings; None if it cannot be had (logged)."""
    try:
        document = await fetch(url, FetchPolicy.of(state.settings, MAX_KEY_DOCUMENT))
        pem = key_from_document(document)
    except (FetchError, ValueError, BadRequest) as exc:
        reason = exc.reason if isinstance(exc, FetchError) else str(exc)
        log.warning(
            "fetching the RealtimeKit public key from %s failed: %s", redact_url(url), reason
        )
        return None
    async with state.db.write() as conn:
        await repo.set_realtimekit(
            conn, app_pk, RealtimeKitSettings(public_key_pem=pem, public_key_url=url), now_ms()
        )
    return pem


def _may_fetch(app_pk: int, last_fetches: dict[int, float], wait: float) -> bool:
    """Whether `wait` seconds passed since the last such fetch; if so, this one is counted."""
    now, last = time.monotonic(), last_fetches.get(app_pk)
    if last is not None and now - last < wait:
        return False
    last_fetches[app_pk] = now
    return True


async def signed_by_app(
    state: AppState, app_pk: int, settings: RealtimeKitSettings, body: bytes, signature: str
) -> bool:
    """Whether the app's key signed `body`; 503 while a key URL gives no key yet (transient:
    RealtimeKit retries)."""
    pem, url = settings.public_key_pem, settings.public_key_url
    if pem is not None and signature_ok(pem, body, signature):
        return True
    if url is None:
        return False
    if pem is None:
        fresh = (
            await _fetch_key(state, app_pk, url)
            if _may_fetch(app_pk, _last_first, RETRY_FIRST_AFTER)
            else None
        )
        if fresh is None:
            raise Unavailable("the RealtimeKit public key could not be fetched; try again later")
        return signature_ok(fresh, body, signature)
    if not _may_fetch(app_pk, _last_refetch, REFETCH_AFTER):
        return False
    fresh = await _fetch_key(state, app_pk, url)
    return fresh is not None and fresh != pem and signature_ok(fresh, body, signature)
