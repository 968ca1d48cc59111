"""Signed download links: what is signed, what a refusal says, where the key lives."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rtk_sessions.kit.blobs import attachment_disposition, check_key, content_type_for
from rtk_sessions.kit.errors import RtkError
from rtk_sessions.kit.signing import LinkRefused, load_or_create_secret, sign, verify

SECRET = b"k" * 32
PATH = "/files/chat/12/2ae1c8b0/3f9a/chat-2ae1c8b0.csv"
EXPIRES = 1_780_000_000
NOW = EXPIRES - 60


def _flip(text: str, index: int) -> str:
    """Change one character so it stays in the same alphabet (hex digit, path char, digit)."""
    replacement = "0" if text[index] != "0" else "1"
    return text[:index] + replacement + text[index + 1 :]


def test_a_signed_link_verifies() -> None:
    verify(SECRET, PATH, str(EXPIRES), sign(SECRET, PATH, EXPIRES), NOW)


def test_the_signature_is_hex_hmac_sha256_of_path_and_expiry() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET, f"{PATH}\n{EXPIRES}".encode(), hashlib.sha256).hexdigest()
    assert sign(SECRET, PATH, EXPIRES) == expected


def test_link_refused_is_a_403_rtk_error() -> None:
    assert issubclass(LinkRefused, RtkError)
    assert LinkRefused("x").status == 403


@pytest.mark.parametrize("index", [0, 31, 63])
def test_one_changed_signature_character_is_not_valid(index: int) -> None:
    signature = _flip(sign(SECRET, PATH, EXPIRES), index)
    with pytest.raises(LinkRefused, match="not valid"):
        verify(SECRET, PATH, str(EXPIRES), signature, NOW)


@pytest.mark.parametrize("index", [1, 10, len(PATH) - 5])
def test_one_changed_path_character_is_not_valid(index: int) -> None:
    signature = sign(SECRET, PATH, EXPIRES)
    with pytest.raises(LinkRefused, match="not valid"):
        verify(SECRET, _flip(PATH, index), str(EXPIRES), signature, NOW)


def test_a_changed_expiry_is_not_valid_even_when_already_past() -> None:
    """Signature before expiry: a forged expiry never reads as "expired"."""
    signature = sign(SECRET, PATH, EXPIRES)
    for forged in (str(EXPIRES + 3600), str(EXPIRES - 3600), _flip(str(EXPIRES), 3)):
        with pytest.raises(LinkRefused, match="not valid"):
            verify(SECRET, PATH, forged, signature, NOW)


@pytest.mark.parametrize("expires", ["abc", "-5", "1e9", " 1780000000", f"0{EXPIRES}", "9" * 40])
def test_a_malformed_expiry_is_not_valid(expires: str) -> None:
    with pytest.raises(LinkRefused, match="not valid"):
        verify(SECRET, PATH, expires, sign(SECRET, PATH, EXPIRES), NOW)


def test_another_key_is_not_valid() -> None:
    with pytest.raises(LinkRefused, match=r"signed with another key\); ask the API"):
        verify(b"other", PATH, str(EXPIRES), sign(SECRET, PATH, EXPIRES), NOW)


def test_a_non_ascii_signature_is_refused_not_crashing() -> None:
    with pytest.raises(LinkRefused, match="not valid"):
        verify(SECRET, PATH, str(EXPIRES), "é" * 64, NOW)


@pytest.mark.parametrize("now", [EXPIRES, EXPIRES + 1, EXPIRES + 86400])
def test_an_expired_link_says_when(now: int) -> None:
    with pytest.raises(LinkRefused) as refused:
        verify(SECRET, PATH, str(EXPIRES), sign(SECRET, PATH, EXPIRES), now)
    assert refused.value.message == (
        "this download link expired at 2026-05-28T20:26:40.000Z; ask the API for a new link"
    )


@pytest.mark.parametrize(
    ("expires", "signature"), [(None, "ab"), ("123", None), (None, None), ("", "ab"), ("1", "")]
)
def test_missing_parameters_make_an_incomplete_link(
    expires: str | None, signature: str | None
) -> None:
    with pytest.raises(LinkRefused) as refused:
        verify(SECRET, PATH, expires, signature, NOW)
    assert refused.value.message == (
        "this download link is incomplete: it needs expires and signature; "
        "ask the API for a new link"
    )


def test_the_secret_is_created_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = load_or_create_secret(data_dir, "")
    key_file = data_dir / "signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert load_or_create_secret(data_dir, "") == first
    assert [p.name for p in data_dir.iterdir()] == ["signing.key"]  # no temp files left


GENERATE = """
import os, sys, time
from pathlib import Path
from rtk_sessions.kit.signing import load_or_create_secret
go = Path(sys.argv[1]) / "go"
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    pass
print(load_or_create_secret(Path(sys.argv[1]) / "data", "").decode())
"""


def test_processes_starting_at_once_all_use_one_key(tmp_path: Path) -> None:
    """`serve --workers N`, or serve beside worker, on a new data directory: whoever writes
    the key first, every process ends with that key (link(2) refuses a second)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", GENERATE, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    try:
        (tmp_path / "go").touch()
        keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert keys == {(tmp_path / "data" / "signing.key").read_text().strip()}
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["signing.key"]


def test_the_key_file_text_works_as_the_configured_secret(tmp_path: Path) -> None:
    """So operators can copy signing.key into RTK_SIGNING_SECRET on other processes."""
    generated = load_or_create_secret(tmp_path, "")
    text = (tmp_path / "signing.key").read_text().strip()
    assert load_or_create_secret(tmp_path / "elsewhere", text) == generated


def test_a_configured_secret_wins_and_writes_nothing(tmp_path: Path) -> None:
    load_or_create_secret(tmp_path, "")
    assert load_or_create_secret(tmp_path, "from-env") == b"from-env"
    assert load_or_create_secret(tmp_path / "fresh", "from-env") == b"from-env"
    assert not (tmp_path / "fresh").exists()


def test_an_empty_key_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "signing.key").write_text("")
    with pytest.raises(ValueError, match="RTK_SIGNING_SECRET"):
        load_or_create_secret(tmp_path, "")


@pytest.mark.parametrize(
    "key",
    [
        "chat/12/2ae1c8b0-9f1e-4c1b-a0f4-3b1c2d3e4f50/3f9a0c/chat-2ae1c8b0.csv",
        "a",
        "summary.txt",
        "a_b-c.d/e",
        "..a/b..",
    ],
)
def test_good_keys_pass(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../etc/passwd",
        "chat/../../etc/passwd",
        "chat/..",
        "./chat",
        "chat/./x",
        "/abs/path",
        "trailing/",
        "double//slash",
        "back\\slash",
        "space here",
        "percent%2e%2e",
        "query?x=1",
        "ümlaut",
        "nul\x00byte",
        "new\nline",
        "a" * 901,
    ],
)
def test_bad_keys_are_rejected(key: str) -> None:
    with pytest.raises(ValueError, match="blob key"):
        check_key(key)


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("chat-1.csv", "text/csv; charset=utf-8"),
        ("transcript.json", "application/json"),
        ("transcript.srt", "application/x-subrip; charset=utf-8"),
        ("transcript.vtt", "text/vtt; charset=utf-8"),
        ("summary.md", "text/markdown; charset=utf-8"),
        ("summary.txt", "text/plain; charset=utf-8"),
        ("SUMMARY.TXT", "text/plain; charset=utf-8"),
        ("archive.tar.gz", "application/octet-stream"),
        ("no-extension", "application/octet-stream"),
    ],
)
def test_content_type_for(filename: str, content_type: str) -> None:
    assert content_type_for(filename) == content_type


@pytest.mark.parametrize(
    ("filename", "header"),
    [
        ("chat-1.csv", 'attachment; filename="chat-1.csv"'),
        ('a"b\\c.csv', 'attachment; filename="a\\"b\\\\c.csv"'),
        ("evil\r\nSet-Cookie: x", 'attachment; filename="evil__Set-Cookie: x"'),
        (
            "résumé.txt",
            "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt",
        ),
    ],
)
def test_attachment_disposition_is_safe(filename: str, header: str) -> None:
    assert attachment_disposition(filename) == header
