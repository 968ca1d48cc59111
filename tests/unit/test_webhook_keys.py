"""The webhook signing key: where it lives, who may read it, that concurrent starts agree, and
that a receiver verifies rtk-signature with the public half as RealtimeKit documents it."""

from __future__ import annotations

import base64
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from rtk_sessions.webhooks.keys import KEY_FILE, load_or_create_key, public_pem, signature


def _verify(pem: str, body: bytes, header: str) -> None:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(header), body, padding.PKCS1v15(), hashes.SHA256())


def test_made_once_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = load_or_create_key(data_dir)
    path = data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.key_size == 2048
    assert public_pem(load_or_create_key(data_dir)) == public_pem(key)
    assert [p.name for p in data_dir.iterdir()] == [KEY_FILE]  # no temp files left


def test_signature_verifies_over_the_raw_body_only(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    body = b'{"event":"meeting.started","meeting":{"id":"m"}}'
    header = signature(key, body)
    pem = public_pem(key)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    _verify(pem, body, header)
    with pytest.raises(InvalidSignature):
        _verify(pem, body.replace(b'"m"', b'"n"'), header)
    other = public_pem(load_or_create_key(tmp_path / "other"))
    with pytest.raises(InvalidSignature):
        _verify(other, body, header)


def test_a_damaged_key_file_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("not a key")
    with pytest.raises(ValueError, match="delete it to generate a new one"):
        load_or_create_key(tmp_path)


GENERATE = """
import sys, time
from pathlib import Path
from rtk_sessions.webhooks.keys import load_or_create_key, public_pem
go = Path(sys.argv[1]) / "go"
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    pass
print(public_pem(load_or_create_key(Path(sys.argv[1]) / "data")).replace(chr(10), ""))
"""


def test_processes_starting_at_once_all_use_one_key(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", GENERATE, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    try:
        (tmp_path / "go").touch()
        keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert keys == {public_pem(load_or_create_key(tmp_path / "data")).replace("\n", "")}
    assert [p.name for p in (tmp_path / "data").iterdir()] == [KEY_FILE]
