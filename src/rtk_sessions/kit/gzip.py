"""Bounded gzip inflation, shared by event batches and rtcstats dumps.

Output is produced in steps and never exceeds `max_bytes + 1`, so a decompression bomb costs
no more memory than an honest body. Concatenated members and trailing zero padding are
accepted, as gzip tools write them, up to `MAX_MEMBERS` members. The input is fed to zlib in
slices of `_SLICE` bytes, so what zlib copies per member (the unread rest of its input) is
bounded too: many tiny members cost time in proportion to their number, not its square.
"""

from __future__ import annotations

import re
import zlib

MAX_MEMBERS = 10_000  # bgzip writes one member per 64 KiB: a 100 MiB dump has 1,600
_SLICE = 16 * 1024
_NOT_ZERO = re.compile(rb"[^\x00]")


class InflatedTooLarge(Exception):
    """The data inflates to more than the limit."""


class NotGzip(Exception):
    """Not valid gzip: the message is zlib's reason, or says the stream is truncated."""

    def __init__(self, reason: str, *, truncated: bool) -> None:
        super().__init__(reason)
        self.truncated = truncated


class TooManyMembers(NotGzip):
    """More concatenated gzip members than `MAX_MEMBERS`."""

    def __init__(self) -> None:
        super().__init__(
            f"it has more than {MAX_MEMBERS} gzip members; compress it as one gzip stream",
            truncated=False,
        )


def gunzip_bounded(data: bytes, max_bytes: int) -> bytes:
    out = bytearray()
    view = memoryview(data)
    start = 0
    for _ in range(MAX_MEMBERS):
        start = _inflate_member(view, start, out, max_bytes)
        more = _NOT_ZERO.search(data, start)  # trailing zero padding is harmless
        if more is None:
            return bytes(out)
        start = more.start()
    raise TooManyMembers


def _inflate_member(view: memoryview, start: int, out: bytearray, max_bytes: int) -> int:
    """Inflate the member at `start` onto `out`; returns the offset just after it."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    offset = start
    try:
        while not inflater.eof:
            if offset >= len(view):
                raise NotGzip("the compressed stream is truncated", truncated=True)
            pending: bytes | memoryview = view[offset : offset + _SLICE]
            offset += len(pending)
            while pending and not inflater.eof:
                room = max_bytes + 1 - len(out)  # > 0 here: max_length 0 means unbounded
                out += inflater.decompress(pending, room)
                if len(out) > max_bytes:
                    raise InflatedTooLarge
                pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise NotGzip(str(exc), truncated=False) from None
    return offset - len(inflater.unused_data)
