"""Stream tokens: short-lived HS256 JWTs signed with a per-app secret (pure).

The `rtcStats` claim is what rtcstats-server reads (`{conference, session, user}`), so one
token works with both servers; `account_id` and `app_id` say whose secret verifies it. They
are read unverified first only to find that secret; nothing else is trusted before the
signature, `exp` and the lifetime cap are checked (docs/rtcstats-live.md, "Credentials").
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from rtk_sessions.collector.identity import Who, checked_who

ALGORITHM = "HS256"
_ID_CHARS_MAX = 128
LEEWAY_S = 30  # clock skew allowed between the token's issuer and this service


class TokenRefused(ValueError):
    """Why a stream token is refused, short enough for a WebSocket close reason."""


@dataclass(frozen=True)
class StreamClaims:
    account_id: str
    app_id: str
    who: Who
    expires_at: int  # epoch seconds


def new_secret() -> str:
    return secrets.token_hex(32)


def looks_like_jwt(credential: str) -> bool:
    parts = credential.split(".")
    return len(parts) == 3 and credential.startswith("eyJ") and all(parts[:2])


def mint(
    secret: str,
    *,
    account_id: str,
    app_id: str,
    who: Who,
    now_s: int,
    ttl_s: int,
) -> str:
    stats: dict[str, str] = {"conference": who.meeting_id, "session": who.peer_id}
    if who.user is not None:
        stats["user"] = who.user
    claims = {
        "rtcStats": stats,
        "account_id": account_id,
        "app_id": app_id,
        "iat": now_s,
        "exp": now_s + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def unverified_app(token: str) -> tuple[str, str]:
    """(account id, app id) the token claims, to look up the secret that must verify it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise TokenRefused("token: not a valid JWT") from None
    account, app = claims.get("account_id"), claims.get("app_id")
    if not (isinstance(account, str) and isinstance(app, str)):
        raise TokenRefused("token: account_id and app_id claims are required")
    if not (0 < len(account) <= _ID_CHARS_MAX and 0 < len(app) <= _ID_CHARS_MAX):
        raise TokenRefused("token: account_id and app_id claims are not valid ids")
    return account, app


def verify(token: str, secret: str, *, now_s: int, max_ttl_s: int) -> StreamClaims:
    """The verified claims; TokenRefused names what is wrong (signature, expiry, claims)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        raise TokenRefused("token: bad signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRefused(f"token: the {exc.claim} claim is required") from None
    except jwt.PyJWTError:
        raise TokenRefused("token: not a valid HS256 JWT") from None
    exp, iat = claims["exp"], claims["iat"]
    if not isinstance(exp, int) or not isinstance(iat, int) or exp - iat > max_ttl_s:
        raise TokenRefused(f"token: lifetime (exp - iat) over {max_ttl_s} s")
    if exp + LEEWAY_S < now_s:  # against this service's clock, not the library's
        raise TokenRefused("token: expired")
    if iat > now_s + LEEWAY_S:
        raise TokenRefused("token: issued in the future")
    stats = claims.get("rtcStats")
    stats = stats if isinstance(stats, dict) else {}
    who = checked_who(stats.get("conference"), stats.get("session"), stats.get("user"))
    if who is None:
        raise TokenRefused("token: rtcStats.conference and .session must be valid ids")
    return StreamClaims(str(claims["account_id"]), str(claims["app_id"]), who, exp)
