"""Bounded gzip inflation, shared by event batches and rtcstats dumps.

Output is produced in steps and never exceeds `max_bytes + 1`, so a decompression bomb costs
no more memory than an honest body. Concatenated members and trailing zero padding are
accepted, as gzip tools write them.
"""

from __future__ import annotations

import zlib


class InflatedTooLarge(Exception):
    """The data inflates to more than the limit."""


class NotGzip(Exception):
    """Not valid gzip: the message is zlib's reason, or says the stream is truncated."""

    def __init__(self, reason: str, *, truncated: bool) -> None:
        super().__init__(reason)
        self.truncated = truncated


def gunzip_bounded(data: bytes, max_bytes: int) -> bytes:
    out = bytearray()
    pending = data
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while True:
                room = max_bytes + 1 - len(out)  # > 0 here: max_length 0 means unbounded
                out += inflater.decompress(pending, room)
                if len(out) > max_bytes:
                    raise InflatedTooLarge
                pending = inflater.unconsumed_tail
                if inflater.eof or not pending:
                    break
        except zlib.error as exc:
            raise NotGzip(str(exc), truncated=False) from None
        if not inflater.eof:
            raise NotGzip("the compressed stream is truncated", truncated=True)
        pending = inflater.unused_data.lstrip(b"\x00")  # trailing zero padding is harmless
        if not pending:
            return bytes(out)
