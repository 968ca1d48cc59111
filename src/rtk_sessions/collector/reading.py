"""A stream's dump read line by line as it arrives: the events each new line adds, with the
ids a later upload of the whole dump gives them, and at the end the figures event."""

from __future__ import annotations

from typing import Any

from rtk_sessions.ingest.rtcstats import DumpError, _Reader
from rtk_sessions.ingest.rtcstats_import import figures_event


class DumpReader:
    """Incremental reader over the importer's own (so ids match a re-import)."""

    def __init__(self, peer_id: str, meeting_id: str) -> None:
        self._reader = _Reader(peer_id, meeting_id)
        self._taken = 0
        self._broken = False  # a first line the importer cannot read: no events

    def feed(self, lineno: int, raw: bytes) -> None:
        if self._broken:
            return
        try:
            self._reader.read(lineno, raw)
        except DumpError:
            self._broken = True

    def take_events(self) -> list[Any]:
        events = self._reader.events[self._taken :]
        self._taken = len(self._reader.events)
        return events

    def finish_events(self) -> list[Any]:
        r = self._reader
        if self._broken or not r.connections or not r.events:
            return []
        figures = {pc: c.figures() for pc, c in r.connections.items()}
        last = max(e["occurred_at"] for e in r.events)
        return [figures_event(r.peer_id, r.meeting_id, dict(figures), last)]
