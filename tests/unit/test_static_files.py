"""The vendored front-end files are the pinned packages' files, byte for byte, each with its
licence beside it (src/rtk_sessions/static/README.md names them)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import rtk_sessions

STATIC = Path(rtk_sessions.__file__).parent / "static"


def test_every_vendored_file_matches_its_recorded_checksum() -> None:
    rows = re.findall(
        r"^\| `([^`]+)`[^|]*\| `([^`]+)`[^|]*\| `([0-9a-f]{64})` \|",
        (STATIC / "README.md").read_text(),
        re.M,
    )
    assert rows, "static/README.md lists no file"
    listed = set()
    for name, package, digest in rows:
        path = STATIC / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{name} is not {package}'s"
        assert (path.parent / "LICENSE").is_file(), f"{name} has no licence beside it"
        listed.add(path)
    served = {p for p in STATIC.rglob("*") if p.suffix in {".js", ".css"}}
    assert served == listed, "a served file is not listed in static/README.md"
