"""Files only the service's own user can read: the data directory 0700, its files 0600.

Everything under RTK_DATA_DIR is private (meeting content, tokens' hashes, the signing key),
so every directory and file we create gets an owner-only mode explicitly, and the CLI also
sets umask 077 so that what libraries create (SQLite's -wal and -shm, huey's queue) follows
(docs/security.md).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict_umask() -> None:
    """Owner-only modes for everything this process creates from now on."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """`path` and each missing parent created 0700; an existing directory is left as it is."""
    missing = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # created meanwhile by another process
            directory.mkdir(mode=DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 unless it exists, so whoever opens it later (SQLite,
    which gives its -wal and -shm files the database's mode) finds a private file."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path


def publish_private_file(path: Path, content: bytes) -> None:
    """Write `content` to a 0600 temporary file, fsync it, then link it to `path` unless `path`
    exists: concurrent first starts all end up reading the one file that won, never a partial
    one (the signing secret, the webhook key)."""
    private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        # link() fails when the name exists: the first process to finish wins, others reuse.
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
