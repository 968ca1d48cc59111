"""API tokens: `rtk_<id>_<secret>`. Only the secret's SHA-256 is stored; the id finds the row."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PERMISSIONS = ("read", "admin", "ingest")
_PREFIX = "rtk_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's account, optional app restriction and permissions."""

    token_id: str
    account_id: str
    app_id: str | None
    permissions: frozenset[str]
    last_used_at: int | None = None  # as stored; `token list` shows it

    def can(self, permission: str) -> bool:
        # admin includes read (docs/api-decisions.md, "Who may call what").
        return permission in self.permissions or (
            permission == "read" and "admin" in self.permissions
        )


def new_token() -> tuple[str, str, str]:
    """(token id, the full token to show once, the secret's hash to store)."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return token_id, f"{_PREFIX}{token_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """(token id, secret) of a well-formed token, else None."""
    if not token.startswith(_PREFIX):
        return None
    token_id, sep, secret = token[len(_PREFIX) :].partition("_")
    if not sep or len(token_id) != 16 or not secret:
        return None
    return token_id, secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
