"""When a session's files expire and how long a link to one may live (docs/files.md, Retention)."""

from __future__ import annotations


def file_expiry_ms(status: str, ended_at: int | None, retention_ms: int) -> int | None:
    """The instant a session's files of one kind expire; None = never.

    Retention belongs to the session: LIVE sessions never expire, and 0 means keep forever.
    """
    if retention_ms <= 0 or status != "ENDED" or ended_at is None:
        return None
    return ended_at + retention_ms


def is_expired(file_expiry: int | None, now: int) -> bool:
    return file_expiry is not None and now >= file_expiry


def link_expiry_ms(now: int, ttl_ms: int, file_expiry: int | None) -> int:
    """A link lives the TTL but never past the file's retention, in whole seconds.

    Whole seconds because that is what a signed URL can carry, and the `*_expiry` field must
    equal the URL's real expiry.
    """
    wanted = now + ttl_ms if file_expiry is None else min(now + ttl_ms, file_expiry)
    return wanted - wanted % 1000
