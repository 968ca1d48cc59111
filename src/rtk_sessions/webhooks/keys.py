"""The key pair deliveries are signed with: RSA 2048, PKCS#1 v1.5 over SHA-256 of the raw body,
as RealtimeKit signs (`rtk-signature`). Receivers verify with the public key served at
/.well-known/webhooks.json (docs/webhooks.md).

The private key lives in DATA_DIR/webhook-signing.pem (0600), made on first start. It is
written in full under a temporary name and then linked into place, so processes starting
together all end up with the one key that won; processes on other machines need a copy.
"""

from __future__ import annotations

import base64
import functools
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from rtk_sessions.kit.private import publish_private_file

KEY_FILE = "webhook-signing.pem"


@functools.cache
def signing_key(data_dir: Path) -> rsa.RSAPrivateKey:
    """This process's copy of the data directory's key (made there if missing)."""
    return load_or_create_key(data_dir)


def load_or_create_key(data_dir: Path) -> rsa.RSAPrivateKey:
    path = data_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError:
        raise ValueError(
            f"{path} is not an unencrypted PEM private key: delete it to generate a new one "
            "(receivers must then fetch the new public key)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} holds a key that is not RSA: delete it to generate a new one")
    return key


def _create_key_file(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    publish_private_file(path, pem)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """The public half as RealtimeKit serves it: SubjectPublicKeyInfo PEM."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def signature(key: rsa.RSAPrivateKey, body: bytes) -> str:
    """The `rtk-signature` header: base64 RSA-SHA256 (PKCS#1 v1.5) of the exact body sent."""
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
