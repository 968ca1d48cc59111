"""Every SQL statement about accounts, apps and tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.kit.tables import accounts, api_tokens, apps, ui_sign_ins


@dataclass(frozen=True)
class StoredToken:
    id: str
    account_id: str
    app_id: str | None
    permissions: frozenset[str]
    secret_sha256: str
    revoked_at: int | None
    last_used_at: int | None = None
    app_pk: int | None = None  # of the app asked for with the token, when it exists


@dataclass(frozen=True)
class TokenInfo:
    """A token as `token list` shows it: everything but its secret."""

    id: str
    account_id: str
    app_id: str | None
    permissions: str
    label: str | None
    created_at: int
    last_used_at: int | None
    revoked_at: int | None


async def get_token(
    conn: AsyncConnection, token_id: str, app: tuple[str, str] | None = None
) -> StoredToken | None:
    """The token; with `app` (account id, app id), also that app's key in the same statement,
    so that a request's token and app checks cost one lookup."""
    query = select(api_tokens).where(api_tokens.c.id == token_id)
    if app is not None:
        on_app = and_(apps.c.account_id == app[0], apps.c.app_id == app[1])
        query = query.add_columns(apps.c.pk.label("app_pk")).select_from(
            api_tokens.outerjoin(apps, on_app)
        )
    row = (await conn.execute(query)).first()
    return None if row is None else _stored_token(row, app is not None)


def _stored_token(row: Any, with_app: bool) -> StoredToken:
    return StoredToken(
        id=row.id,
        account_id=row.account_id,
        app_id=row.app_id,
        permissions=frozenset(p for p in row.permissions.split(",") if p),
        secret_sha256=row.secret_sha256,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        app_pk=row.app_pk if with_app else None,
    )


async def insert_token(
    conn: AsyncConnection,
    *,
    token_id: str,
    account_id: str,
    app_id: str | None,
    permissions: list[str],
    secret_sha256: str,
    label: str | None,
    now: int,
) -> None:
    await conn.execute(
        insert(api_tokens).values(
            id=token_id,
            account_id=account_id,
            app_id=app_id,
            permissions=",".join(sorted(set(permissions))),
            secret_sha256=secret_sha256,
            label=label,
            created_at=now,
        )
    )


async def revoke_token(conn: AsyncConnection, token_id: str, now: int) -> bool:
    result = await conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


async def list_tokens(conn: AsyncConnection, include_revoked: bool) -> list[TokenInfo]:
    c = api_tokens.c
    query = select(
        c.id, c.account_id, c.app_id, c.permissions, c.label, c.created_at, c.last_used_at,
        c.revoked_at,
    ).order_by(c.created_at, c.id)  # fmt: skip
    if not include_revoked:
        query = query.where(c.revoked_at.is_(None))
    return [TokenInfo(*row) for row in await conn.execute(query)]


async def mark_used(conn: AsyncConnection, token_id: str, now: int, resolution_ms: int) -> None:
    """Stamp `last_used_at`, unless someone did within `resolution_ms`."""
    c = api_tokens.c
    await conn.execute(
        update(api_tokens)
        .where(
            c.id == token_id,
            or_(c.last_used_at.is_(None), c.last_used_at <= now - resolution_ms),
        )
        .values(last_used_at=now)
    )


def _insert_ignoring_conflicts(conn: AsyncConnection, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING: two first requests for one app must not race."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return dialect_insert(table).on_conflict_do_nothing()


async def ensure_account(conn: AsyncConnection, account_id: str, now: int) -> None:
    await conn.execute(
        _insert_ignoring_conflicts(conn, accounts).values(id=account_id, created_at=now)
    )


async def get_app_pk(conn: AsyncConnection, account_id: str, app_id: str) -> int | None:
    return (
        await conn.execute(
            select(apps.c.pk).where(apps.c.account_id == account_id, apps.c.app_id == app_id)
        )
    ).scalar()


async def ensure_app(conn: AsyncConnection, account_id: str, app_id: str, now: int) -> int:
    """The app's key, creating the account and app if missing."""
    pk = await get_app_pk(conn, account_id, app_id)
    if pk is not None:
        return pk
    await ensure_account(conn, account_id, now)
    values = {"account_id": account_id, "app_id": app_id, "created_at": now}
    await conn.execute(_insert_ignoring_conflicts(conn, apps).values(**values))
    pk = await get_app_pk(conn, account_id, app_id)
    if pk is None:  # cannot happen: inserted just now, or by a concurrent request
        raise RuntimeError(f"app {account_id}/{app_id} vanished while being created")
    return pk


async def set_summarize_on_end(conn: AsyncConnection, app_pk: int, on: bool, now: int) -> None:
    """On from `now` (or from when it was turned on, if it is on already); off."""
    since = func.coalesce(apps.c.summarize_on_end_since, now) if on else None
    await conn.execute(update(apps).where(apps.c.pk == app_pk).values(summarize_on_end_since=since))


async def summarizes_on_end(conn: AsyncConnection, app_pk: int) -> bool:
    """Whether the app's ended sessions are summarized without a POST."""
    since = await conn.scalar(select(apps.c.summarize_on_end_since).where(apps.c.pk == app_pk))
    return since is not None


async def apps_summarizing_on_end(conn: AsyncConnection) -> set[int]:
    rows = await conn.scalars(select(apps.c.pk).where(apps.c.summarize_on_end_since.is_not(None)))
    return set(rows)


async def list_apps(conn: AsyncConnection) -> list[tuple[int, str, str]]:
    """(pk, account id, app id) of every app."""
    rows = await conn.execute(
        select(apps.c.pk, apps.c.account_id, apps.c.app_id).order_by(apps.c.pk)
    )
    return [(r.pk, r.account_id, r.app_id) for r in rows]


@dataclass(frozen=True)
class SignIn:
    """A dashboard sign-in as a page request finds it: its token and CSRF secret."""

    token: StoredToken
    csrf: str
    expires_at: int


async def insert_sign_in(
    conn: AsyncConnection, key_sha256: str, token_id: str, csrf: str, now: int, expires_at: int
) -> None:
    """Record a sign-in; sign-ins that expired are removed on the way (they are few)."""
    await conn.execute(delete(ui_sign_ins).where(ui_sign_ins.c.expires_at <= now))
    await conn.execute(
        insert(ui_sign_ins).values(
            key_sha256=key_sha256, token_id=token_id, csrf=csrf, created_at=now,
            expires_at=expires_at,
        )
    )  # fmt: skip


async def get_sign_in(
    conn: AsyncConnection, key_sha256: str, now: int, app_id: str | None
) -> SignIn | None:
    """The unexpired sign-in with its token and, with `app_id`, the key of that app of the
    token's account: one statement, as for an API request's token."""
    s = ui_sign_ins.c
    joined = ui_sign_ins.join(api_tokens, api_tokens.c.id == s.token_id)
    query = select(api_tokens, s.csrf, s.expires_at)
    if app_id is not None:
        on_app = and_(apps.c.account_id == api_tokens.c.account_id, apps.c.app_id == app_id)
        joined = joined.outerjoin(apps, on_app)
        query = query.add_columns(apps.c.pk.label("app_pk"))
    where = (s.key_sha256 == key_sha256, s.expires_at > now)
    row = (await conn.execute(query.select_from(joined).where(*where))).first()
    if row is None:
        return None
    return SignIn(_stored_token(row, app_id is not None), row.csrf, row.expires_at)


async def delete_sign_in(conn: AsyncConnection, key_sha256: str) -> None:
    await conn.execute(delete(ui_sign_ins).where(ui_sign_ins.c.key_sha256 == key_sha256))


async def apps_of_account(conn: AsyncConnection, account_id: str) -> list[str]:
    """The app ids of an account, in creation order."""
    rows = await conn.scalars(
        select(apps.c.app_id).where(apps.c.account_id == account_id).order_by(apps.c.pk)
    )
    return list(rows)
