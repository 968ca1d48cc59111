"""Setting up an app to take in another platform's webhooks: checks of what the operator gives,
then the stored settings (docs/integrations.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.auth.repo import ensure_app, get_app_pk
from rtk_sessions.integrations import repo
from rtk_sessions.integrations.repo import LiveKitSettings, RealtimeKitSettings
from rtk_sessions.kit.errors import BadRequest, NotFound
from rtk_sessions.kit.state import AppState

T = TypeVar("T")


def rsa_public_key(pem: str) -> rsa.RSAPublicKey:
    """The RSA public key in a PEM text (SPKI `BEGIN PUBLIC KEY`, or PKCS#1 `BEGIN RSA PUBLIC
    KEY`); a BadRequest saying what is wrong otherwise."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnicodeError):
        raise BadRequest(
            "the public key is not a PEM public key; expected a text starting with "
            "'-----BEGIN PUBLIC KEY-----'"
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadRequest("the public key is not an RSA key; RealtimeKit signs with RSA-SHA256")
    return key


def key_url(url: str) -> str:
    """A key document URL the server may fetch: https, with a host, without credentials."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise BadRequest(f"the public key URL must be an https:// URL (got {url[:200]!r})")
    if parts.username or parts.password:
        raise BadRequest("the public key URL must not carry a user name or password")
    return url


async def set_realtimekit(
    conn: AsyncConnection,
    account_id: str,
    app_id: str,
    now: int,
    *,
    pem: str | None = None,
    url: str | None = None,
) -> None:
    """Pin a public key, or name the URL it is fetched from (and cached); the app is created
    if it does not exist yet."""
    if (pem is None) == (url is None):
        raise BadRequest("give either a public key file or a public key URL, not both")
    if pem is not None:
        rsa_public_key(pem)
        value = RealtimeKitSettings(public_key_pem=pem.strip() + "\n")
    else:
        value = RealtimeKitSettings(public_key_url=key_url(url or ""))
    app_pk = await ensure_app(conn, account_id, app_id, now)
    await repo.set_realtimekit(conn, app_pk, value, now)


async def set_livekit(
    conn: AsyncConnection, account_id: str, app_id: str, api_key: str, api_secret: str, now: int
) -> None:
    """Store the LiveKit server's API key and secret; the app is created if it does not exist."""
    api_key, api_secret = api_key.strip(), api_secret.strip()
    if not api_key:
        raise BadRequest("the LiveKit API key is empty")
    if not api_secret:
        raise BadRequest("the LiveKit API secret is empty")
    app_pk = await ensure_app(conn, account_id, app_id, now)
    await repo.set_livekit(conn, app_pk, LiveKitSettings(api_key, api_secret), now)


async def configured(
    state: AppState,
    account_id: str,
    app_id: str,
    platform: str,
    get: Callable[[AsyncConnection, int], Awaitable[T | None]],
) -> tuple[int, T]:
    """The app's key and its settings for `platform`'s webhooks; a 404 naming the command
    that sets them up when there are none."""
    async with state.db.read() as conn:
        app_pk = await get_app_pk(conn, account_id, app_id)
        found = None if app_pk is None else await get(conn, app_pk)
    if app_pk is None or found is None:
        command = f"rtk-sessions app set-{platform.lower()} --account {account_id} --app {app_id}"
        raise NotFound(
            f"App {app_id} of account {account_id} takes no {platform} webhooks; set it up "
            f"with `{command} ...`"
        )
    return app_pk, found
