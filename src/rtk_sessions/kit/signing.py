"""Expiring HMAC links for files this service serves itself (the local blob store).

A link is `path?expires=<epoch s>&signature=<hex>`; the signature covers the path and the
expiry, so changing either one, or signing with another key, makes the link invalid.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

from rtk_sessions.kit.errors import RtkError
from rtk_sessions.kit.private import publish_private_file
from rtk_sessions.kit.timeutil import to_iso

SECRET_FILE = "signing.key"

INCOMPLETE = (
    "this download link is incomplete: it needs expires and signature; ask the API for a new link"
)
INVALID = (
    "this download link is not valid (it was changed or signed with another key); "
    "ask the API for a new link"
)

# Canonical decimal only: "0100" must not reuse the signature of "100".
_EXPIRES = re.compile(r"0|[1-9][0-9]{0,11}")


class LinkRefused(RtkError):
    """A download link that is incomplete, tampered with, signed with another key or expired."""

    status = 403


def load_or_create_secret(data_dir: Path, configured: str) -> bytes:
    """The configured secret, else the one kept in DATA_DIR/signing.key (created on first use).

    The key file holds text that works unchanged as RTK_SIGNING_SECRET, so an operator can
    copy it to the other API processes behind a balancer.
    """
    if configured:
        return configured.encode()
    path = data_dir / SECRET_FILE
    if not path.exists():
        _create_secret_file(path)
    secret = path.read_text().strip()
    if not secret:
        raise ValueError(
            f"{path} is empty: delete it to generate a new key or set RTK_SIGNING_SECRET"
        )
    return secret.encode()


def _create_secret_file(path: Path) -> None:
    """Write the key in full before it appears, so concurrent starts all read the same key."""
    publish_private_file(path, (secrets.token_hex(32) + "\n").encode())


def sign(secret: bytes, path: str, expires_s: int) -> str:
    """Hex HMAC-SHA256 over `path` and the expiry (epoch seconds), separated by a newline."""
    message = f"{path}\n{expires_s}".encode("utf-8", "surrogatepass")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify(
    secret: bytes, path: str, expires: str | None, signature: str | None, now_s: int
) -> None:
    """Accept a link or raise LinkRefused saying why.

    The signature is checked before the expiry, so an edited expiry reads as "not valid"
    rather than leaking whether the forged time has passed.
    """
    if not expires or not signature:
        raise LinkRefused(INCOMPLETE)
    if not _EXPIRES.fullmatch(expires):
        raise LinkRefused(INVALID)
    expires_s = int(expires)
    expected = sign(secret, path, expires_s).encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass")):
        raise LinkRefused(INVALID)
    if now_s >= expires_s:
        raise LinkRefused(
            f"this download link expired at {to_iso(expires_s * 1000)}; ask the API for a new link"
        )
