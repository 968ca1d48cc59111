"""Publishing built files and handing out links to them.

A file is built into a temporary path, moved into the blob store, then recorded; a link is
signed only for a recorded file. Retention is checked before anything is built, so an expired
session's files are never rebuilt.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.files import repo
from rtk_sessions.files.repo import Artifact
from rtk_sessions.files.retention import file_expiry_ms, is_expired, link_expiry_ms
from rtk_sessions.kit.blobs import BlobStore, Link, content_type_for
from rtk_sessions.kit.errors import NotFound
from rtk_sessions.kit.private import private_dir
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.sessions.repo import SessionRow

KINDS = ("chat", "transcript", "summary")


@dataclass(frozen=True)
class FileSpec:
    """What is built: the kind, its variant (format), and the fingerprint of its content."""

    kind: str
    variant: str
    fingerprint: str
    filename: str


def fingerprint_of(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def retention_ms(state: AppState, kind: str) -> int:
    s = state.settings
    seconds = {
        "chat": s.chat_retention,
        "transcript": s.transcript_retention,
        "summary": s.summary_retention,
    }
    return int(seconds[kind] * 1000)


def expiry_of(state: AppState, session: SessionRow, kind: str) -> int | None:
    return file_expiry_ms(session.status, session.ended_at, retention_ms(state, kind))


def check_not_expired(state: AppState, session: SessionRow, kind: str, now: int) -> None:
    """404 "expired" once the session's files of this kind are past retention."""
    expiry = expiry_of(state, session, kind)
    if expiry is not None and is_expired(expiry, now):
        raise NotFound(
            f"The {kind} of session {session.id} expired at {to_iso(expiry)}: {kind} files "
            f"are kept {retention_ms(state, kind) / 86_400_000:g} days after the session ends "
            f"(RTK_{kind.upper()}_RETENTION)"
        )


def artifact_key(app_pk: int, session_id: str, spec: FileSpec) -> str:
    return f"{spec.kind}/{app_pk}/{session_id}/{spec.fingerprint[:32]}/{spec.filename}"


async def find_built(
    state: AppState, conn: AsyncConnection, app_pk: int, session_id: str, spec: FileSpec
) -> Artifact | None:
    """The recorded file for exactly this content, if it is still in the store."""
    found = await repo.find_artifact(
        conn, app_pk, session_id, spec.kind, spec.variant, spec.fingerprint
    )
    if found is None or not await asyncio.to_thread(state.blobs.exists, found.key):
        return None
    return found


async def publish(
    state: AppState,
    app_pk: int,
    session_id: str,
    spec: FileSpec,
    write: Callable[[Path], Awaitable[None]],
    now: int,
    end_reading: Callable[[], Awaitable[None]] | None = None,
) -> Artifact:
    """Build the file with `write(path)` (which may still read through the caller's read
    transaction), put it in the blob store, end that transaction (`end_reading`), and record
    the file: the build's named write phase."""
    artifact = await store_file(state, app_pk, session_id, spec, write, now)
    if end_reading is not None:
        await end_reading()
    async with state.db.write() as conn:
        await record_file(conn, artifact, now)
    return artifact


async def store_file(
    state: AppState,
    app_pk: int,
    session_id: str,
    spec: FileSpec,
    write: Callable[[Path], Awaitable[None]],
    now: int,
) -> Artifact:
    """Build the file with `write(path)` and put it in the blob store; not recorded yet (a
    job records it with the rest of its last step, `record_file`)."""
    tmp_dir = private_dir(state.settings.data_dir / "tmp")
    with tempfile.TemporaryDirectory(dir=tmp_dir) as work:  # mode 0700
        path = Path(work) / spec.filename
        await write(path)
        size = path.stat().st_size
        key = artifact_key(app_pk, session_id, spec)
        await asyncio.to_thread(state.blobs.put_file, key, path, content_type_for(spec.filename))
    return Artifact(app_pk, key, session_id, spec.kind, spec.variant, spec.fingerprint, size, now)


async def record_file(conn: AsyncConnection, artifact: Artifact, now: int) -> None:
    """Record a stored file, in the caller's write transaction."""
    await repo.record_artifact(conn, artifact, now)


def link_to(
    blobs: BlobStore, key: str, base_url: str, now: int, ttl_ms: int, file_expiry: int | None
) -> Link:
    expires = link_expiry_ms(now, ttl_ms, file_expiry)
    gone = NotFound(f"This file expires at {to_iso(expires)}; it can no longer be linked")
    if expires - now < 1000:  # a link must live at least a second; the file is as good as gone
        raise gone
    filename = key.rsplit("/", 1)[-1]
    try:
        return blobs.link(
            key,
            base_url=base_url,
            expires_at_ms=expires,
            filename=filename,
            content_type=content_type_for(filename),
        )
    except ValueError as exc:  # the store's clock passed the last whole second meanwhile
        raise gone from exc


async def link_for(
    state: AppState, session: SessionRow, key: str, base_url: str, now: int, kind: str
) -> Link:
    ttl_ms = int(state.settings.link_ttl * 1000)
    expiry = expiry_of(state, session, kind)
    return await asyncio.to_thread(link_to, state.blobs, key, base_url, now, ttl_ms, expiry)
