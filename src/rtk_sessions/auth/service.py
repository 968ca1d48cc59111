"""Authentication and authorization, in the order the contract fixes: 401 → 403 → 404."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.auth import repo
from rtk_sessions.auth.tokens import PERMISSIONS, Principal, new_token, secret_matches, split_token
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.errors import BadRequest, Forbidden, NotFound, Unauthorized

ONLY_BEARER = (
    "Only `Authorization: Bearer <token>` is accepted. Note that the SDK sends "
    "CLOUDFLARE_EMAIL/CLOUDFLARE_API_KEY (X-Auth-Email/X-Auth-Key) instead of api_token when "
    "those environment variables are set: unset them or pass api_token explicitly."
)


@dataclass(frozen=True)
class Credentials:
    """What the request carried; the HTTP layer fills it from headers."""

    authorization: str | None
    has_legacy_headers: bool


async def authenticate(conn: AsyncConnection, creds: Credentials) -> Principal:
    principal, _ = await authenticate_for(conn, creds, None)
    return principal


async def authenticate_for(
    conn: AsyncConnection, creds: Credentials, app: tuple[str, str] | None
) -> tuple[Principal, int | None]:
    """The principal (401 otherwise) and, with `app` (account id, app id), that app's key or
    None when it does not exist, read together. Authorize before using the key."""
    if creds.has_legacy_headers:
        raise Unauthorized(
            f"X-Auth-Email/X-Auth-Key/X-Auth-User-Service-Key are not supported. {ONLY_BEARER}"
        )
    if not creds.authorization:
        raise Unauthorized(f"Missing credentials. {ONLY_BEARER}")
    scheme, _, value = creds.authorization.partition(" ")
    parts = split_token(value.strip()) if scheme.lower() == "bearer" else None
    if parts is None:
        raise Unauthorized(f"Malformed credentials. {ONLY_BEARER}")
    token = await repo.get_token(conn, parts[0], app)
    if (
        token is None
        or token.revoked_at is not None
        or not secret_matches(parts[1], token.secret_sha256)
    ):
        raise Unauthorized(f"Invalid or revoked API token. {ONLY_BEARER}")
    return _principal_of(token), token.app_pk


def _principal_of(token: repo.StoredToken) -> Principal:
    return Principal(
        token.id, token.account_id, token.app_id, token.permissions, token.last_used_at
    )


def authorize(principal: Principal, account_id: str, app_id: str, permission: str) -> None:
    if principal.account_id != account_id:
        raise Forbidden(f"This token does not belong to account {account_id}.")
    if principal.app_id is not None and principal.app_id != app_id:
        raise Forbidden(f"This token is limited to app {principal.app_id}.")
    if not principal.can(permission):
        raise Forbidden(f"This token lacks the `{permission}` permission.")


async def resolve_app(conn: AsyncConnection, account_id: str, app_id: str) -> int:
    """The app's key; 404 for an app the (authorized) caller's account does not have."""
    return known_app(await repo.get_app_pk(conn, account_id, app_id), account_id, app_id)


def known_app(pk: int | None, account_id: str, app_id: str) -> int:
    if pk is None:
        raise NotFound(f"No app found with id {app_id} in account {account_id}.")
    return pk


_ID_CHARS = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def check_ids(**ids: str | None) -> None:
    """Account and app ids: 1–128 of A-Z a-z 0-9 . _ : - (like every id of the ingest API)."""
    for name, value in ids.items():
        if value is not None and not _ID_CHARS.fullmatch(value):
            raise BadRequest(
                f"{name} {value[:64]!r} is not valid: use 1–128 of A-Z a-z 0-9 . _ : -"
            )


async def create_token(
    conn: AsyncConnection,
    *,
    account_id: str,
    app_id: str | None,
    permissions: list[str],
    now: int,
    label: str | None = None,
) -> str:
    """Create the account (and app) if missing; return the token, shown only this once."""
    check_ids(account_id=account_id, app_id=app_id)
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown or not permissions:
        raise BadRequest(
            f"permissions must be among {', '.join(PERMISSIONS)}; got {unknown or 'none'}"
        )
    if app_id is None:
        await repo.ensure_account(conn, account_id, now)
    else:
        await repo.ensure_app(conn, account_id, app_id, now)
    token_id, token, secret_hash = new_token()
    await repo.insert_token(
        conn,
        token_id=token_id,
        account_id=account_id,
        app_id=app_id,
        permissions=permissions,
        secret_sha256=secret_hash,
        label=label,
        now=now,
    )
    return token


async def revoke_token(conn: AsyncConnection, token: str, now: int) -> None:
    """Revoke by full token or by token id."""
    parts = split_token(token)
    token_id = parts[0] if parts else token
    if not await repo.revoke_token(conn, token_id, now):
        raise NotFound(f"No active token with id {token_id}.")


async def list_tokens(conn: AsyncConnection, *, include_revoked: bool) -> list[repo.TokenInfo]:
    return await repo.list_tokens(conn, include_revoked)


USE_RESOLUTION_MS = 60_000  # `last used` is accurate to a minute: reads rarely write
_recorded: dict[str, int] = {}  # token id -> when this process last stamped it


async def record_use(db: Database, principal: Principal, now: int) -> None:
    """Stamp the token's `last_used_at` when the stored one is a minute old or more, in its
    own short transaction after the request's read."""
    last = max(principal.last_used_at or 0, _recorded.get(principal.token_id, 0))
    if now - last < USE_RESOLUTION_MS:
        return
    if len(_recorded) > 10_000:
        _recorded.clear()
    _recorded[principal.token_id] = now
    async with db.write() as conn:
        await repo.mark_used(conn, principal.token_id, now, USE_RESOLUTION_MS)


SIGN_IN_MS = 12 * 3_600_000  # a dashboard sign-in lasts 12 hours, then asks for the token again


@dataclass(frozen=True)
class DashboardVisit:
    """Who a dashboard page is for: the signed-in token, the app asked for (its key, or None
    when the account has no such app) and the sign-in's CSRF secret."""

    principal: Principal
    app_pk: int | None
    csrf: str


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def pasted_token(token: str) -> Credentials:
    """A token pasted into the dashboard's sign-in form, as the API's header would carry it."""
    return Credentials(f"Bearer {token.strip()}", False)


async def sign_in(conn: AsyncConnection, principal: Principal, now: int) -> str:
    """A new dashboard sign-in for an authenticated token: the cookie's key, shown only to
    the browser (the store keeps its hash)."""
    key = secrets.token_urlsafe(32)
    await repo.insert_sign_in(
        conn, _key_hash(key), principal.token_id, secrets.token_urlsafe(32), now, now + SIGN_IN_MS
    )
    return key


async def signed_in(
    conn: AsyncConnection, key: str | None, app_id: str | None, now: int
) -> DashboardVisit:
    """The sign-in behind a cookie's key, with its token checked again (a revoked token ends
    its sign-ins at once); 401 when there is none."""
    found = await repo.get_sign_in(conn, _key_hash(key), now, app_id) if key else None
    if found is None or found.token.revoked_at is not None:
        raise Unauthorized("Not signed in, or the sign-in expired: sign in with an API token")
    return DashboardVisit(_principal_of(found.token), found.token.app_pk, found.csrf)


async def apps_of(conn: AsyncConnection, principal: Principal) -> list[str]:
    """The apps a token may open: the one it is limited to, else its account's."""
    if principal.app_id is not None:
        return [principal.app_id]
    return await repo.apps_of_account(conn, principal.account_id)


async def sign_out(conn: AsyncConnection, key: str) -> None:
    await repo.delete_sign_in(conn, _key_hash(key))
