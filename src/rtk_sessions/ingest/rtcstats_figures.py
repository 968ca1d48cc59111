"""One peer connection of an rtcstats dump: getstats reports merged into its stats, the samples
and selected ICE candidate pair they yield, and the per-connection figures jitsi's
rtcstats-server also measures.

getstats values are delta-compressed: the state merges each report field by field like the
server's decompressor (objects missing from a report keep their last state, `timestamp: 0`
stands for the report's top-level timestamp); the whole reports that rtcstats-js frames give
once decompressed (rtcstats_compression.py) replace the state instead. A sample is made per inbound-rtp / outbound-rtp
object listed in a report, once its stream has carried a packet and when its timestamp moved;
which fields it carries is `rtcstats_samples.py`'s part. Why, and the figures' definitions:
docs/rtcstats.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rtk_sessions.ingest.rtcstats_compression import Frame
from rtk_sessions.ingest.rtcstats_samples import (
    copy_rtp_fields,
    pair_fields,
    rtp_view,
    selected_pair,
)
from rtk_sessions.ingest.rtcstats_values import (
    EPOCH_2000_MS,
    Json,
    as_number,
    by_id,
    is_number,
    is_ssrc,
    is_text,
)

_CONNECTED = ("connected", "completed")
_PAIR_TYPES = ("transport", "candidate-pair")
_TRANSPORTS = (("producing", "outbound-rtp"), ("consuming", "inbound-rtp"))


@dataclass
class ConnectionFigures:
    """What the reference results measure per connection, in their names (snake_case)."""

    pc_id: str
    session_duration_ms: int = 0  # first connectionState connected → last line of the PC
    connected_at: int | None = None
    ice_reconnects: int = 0  # connectionState `connected` again after the first time
    connection_failed: bool = False  # connectionState `failed` seen
    is_p2p: bool | None = None  # the `rtcStatsSFUP2P` constraint (Jitsi)
    # How many getstats values the connection got. With none (a client whose getStats the
    # browser lacks), the packet figures below are None: nothing was measured, not zero.
    stats_reports: int = 0
    total_packets_sent: int | None = None
    total_packets_received: int | None = None
    total_sent_packets_lost: int | None = None  # as the remote reports it (remote-inbound-rtp)
    total_received_packets_lost: int | None = None
    sent_packets_lost_pct: float | None = None  # lost / (lost + sent) · 100
    received_packets_lost_pct: float | None = None  # lost / (lost + received) · 100
    remote_packets_received: int | None = None  # Firefox only: what the remote got of ours
    candidate_pair_id: str | None = None  # the last selected pair
    local_candidate_type: str | None = None
    remote_candidate_type: str | None = None
    local_protocol: str | None = None
    remote_protocol: str | None = None
    local_address: str | None = None
    remote_address: str | None = None
    local_port: int | None = None
    remote_port: int | None = None
    uses_relay: bool | None = None  # either candidate of the selected pair is `relay`


@dataclass
class Hints:
    """Screen-share signals from outside the stats (getDisplayMedia tracks, Jitsi's
    setVideoType), shared by all connections of a dump."""

    desktop_ssrcs: set[int] = field(default_factory=set)
    display_tracks: set[str] = field(default_factory=set)


class Connection:
    """The merged stats and the running figures of one peer connection."""

    def __init__(self, pc_id: str, hints: Hints) -> None:
        self.pc_id = pc_id
        self.hints = hints
        self.stats: dict[str, Json] = {}
        self.is_p2p: bool | None = None
        self._sent: dict[str, list[float]] = {}  # stream → [sum of finished runs, last value]
        self._received: dict[str, list[float]] = {}
        self._lost_sent: dict[str, float] = {}
        self._lost_received: dict[str, float] = {}
        self._remote_received: dict[str, float] = {}
        self._directions: set[str] = set()  # outbound-rtp / inbound-rtp seen
        self._active: dict[str, None] = {}  # streams that carried a packet, in that order
        self._last_ts: dict[str, int] = {}
        self._pair: str | None = None
        self._pair_fields: Json = {}  # the pair's fields when last seen (it may be removed)
        self._emitted: dict[str, str] = {}  # candidate-pair transport → pair id sent last
        self._connected_at: int | None = None
        self._end: int | None = None
        self._connected = 0
        self._failed = False
        self._reports = 0

    def seen(self, ts: int) -> None:
        """A line of this connection: it lasted at least until here once it had connected."""
        if self._connected_at is not None:
            self._end = ts if self._end is None else max(self._end, ts)

    def connection_state(self, state: str, ts: int) -> None:
        if state in _CONNECTED and self._connected_at is None:
            self._connected_at = ts
        self._connected += state == "connected"
        self._failed = self._failed or state == "failed"

    def apply_stats(self, report: Any, line_ts: int) -> tuple[list[Json], list[Json]]:
        """Merge one getstats value; its samples and candidate-pair changes.

        Raises ValueError (without line number) when the value is not a stats mapping."""
        present = self._merge(report, line_ts)
        self._reports += 1
        samples = [s for oid in present if (s := self._sample(oid, line_ts)) is not None]
        return samples, self._pair_changes()

    def apply_frame(
        self, whole: dict[str, Json], frame: Frame, line_ts: int, carry: int
    ) -> tuple[list[Json], list[Json], int]:
        """Take the whole stats an rtcstats-js frame left (rtcstats_compression.py) as the
        state; samples of the reports it sent and then, up to `carry` of them, of the streams
        it left out (unchanged: their counters again, at the frame's time `t`); the
        candidate-pair changes; and how many streams were carried.

        The cost follows the frame's size plus `carry`, never the number of stats objects:
        the caller bounds `carry` (see DumpReader)."""
        self.stats = whole
        self._reports += 1
        for oid in frame.removed:
            self._active.pop(oid, None)
        for oid in frame.listed:
            self._count(oid)
        samples = [s for oid in frame.listed if (s := self._sample(oid, line_ts)) is not None]
        carried = 0
        if frame.timestamp is not None and carry > 0:
            listed = set(frame.listed)
            for oid in self._active:
                if oid in listed or oid not in whole:
                    continue
                if carried == carry:
                    break
                carried += 1
                whole[oid]["timestamp"] = frame.timestamp
                if (sample := self._sample(oid, line_ts)) is not None:
                    samples.append(sample)
        rescan = bool(frame.removed) or any(
            whole[oid].get("type") in _PAIR_TYPES for oid in frame.listed
        )
        return samples, self._pair_changes(rescan), carried

    def _merge(self, report: Any, line_ts: int) -> list[str]:
        if not isinstance(report, dict):
            raise ValueError("a getstats value must be an object of stats objects by id")
        objects = {oid: obj for oid, obj in report.items() if oid != "timestamp"}
        if not all(isinstance(obj, dict) for obj in objects.values()):  # checked before merging
            raise ValueError("a getstats value holds a stats object that is not a JSON object")
        top = report.get("timestamp")
        top_ts = top if is_number(top) else line_ts
        present = []
        for oid, obj in objects.items():
            old = self.stats.get(oid)
            if obj.get("timestamp") == 0 or (old is None and "timestamp" not in obj):
                obj["timestamp"] = top_ts
            if old is None:
                self.stats[oid] = obj
            else:
                old.update(obj)
            present.append(oid)
            self._count(oid)
        return present

    def _count(self, oid: str) -> None:
        obj = self.stats[oid]
        if obj.get("type") == "remote-inbound-rtp":
            _keep(self._lost_sent, oid, obj.get("packetsLost"))
            _keep(self._remote_received, oid, obj.get("packetsReceived"))
            return
        view = rtp_view(oid, self.stats)
        if view is None:
            return
        rtp, remote = view
        self._directions.add(rtp["type"])
        if rtp["type"] == "outbound-rtp":
            _total(self._sent, oid, rtp.get("packetsSent"))
            if rtp is not obj and remote is not None:  # legacy: the remote's loss is inline
                _keep(self._lost_sent, oid, remote.get("packetsLost"))
        else:
            _total(self._received, oid, rtp.get("packetsReceived"))
            _keep(self._lost_received, oid, rtp.get("packetsLost"))

    def _sample(self, oid: str, line_ts: int) -> Json | None:
        view = rtp_view(oid, self.stats)
        if view is None:
            return None
        rtp, remote = view
        out = rtp["type"] == "outbound-rtp"
        kind = rtp.get("kind") or rtp.get("mediaType")
        ssrc = rtp.get("ssrc")
        if kind not in ("audio", "video") or not is_ssrc(ssrc):
            return None
        packets = rtp.get("packetsSent" if out else "packetsReceived")
        if is_number(packets) and packets > 0:
            self._active[oid] = None
        ts = _epoch_ms(rtp.get("timestamp"), line_ts)
        if oid not in self._active or self._last_ts.get(oid) == ts:
            return None
        self._last_ts[oid] = ts
        sample: Json = {"timestamp": ts, "kind": kind, "ssrc": ssrc, "pc_id": self.pc_id}
        sample["direction"] = "outbound" if out else "inbound"
        if self._screenshare(rtp, ssrc):
            sample["source"] = "screenshare"
        if is_text(rtp.get("mid")):
            sample["mid"] = rtp["mid"]
        copy_rtp_fields(sample, rtp, remote, by_id(self.stats, rtp.get("trackId")))
        if "round_trip_time" not in sample and (rtt := self._pair_rtt()) is not None:
            sample["round_trip_time"] = rtt
        return sample

    def _screenshare(self, rtp: Json, ssrc: int) -> bool:
        if rtp.get("contentType") == "screenshare" or ssrc in self.hints.desktop_ssrcs:
            return True
        for key in ("trackId", "mediaSourceId"):
            source = by_id(self.stats, rtp.get(key))
            track_id = source.get("trackIdentifier") if source else None
            if isinstance(track_id, str) and track_id in self.hints.display_tracks:
                return True
        return False

    def _pair_rtt(self) -> float | None:
        rtt = (by_id(self.stats, self._pair) or {}).get("currentRoundTripTime")
        return float(rtt) if is_number(rtt) else None

    def _pair_changes(self, rescan: bool = True) -> list[Json]:
        """The selected pair once per transport direction, again whenever it changes; the
        pair is looked for again only when `rescan` (a transport or pair may have changed).

        A connection that sends media is `producing`, one that receives is `consuming`, one
        that does both (Jitsi's single PC) is both; before any media, both."""
        if rescan:
            self._pair = selected_pair(self.stats) or self._pair
        if self._pair is None or self._pair not in self.stats:  # none, or removed since
            return []
        self._pair_fields = pair_fields(self.stats, self._pair)
        wanted = [t for t, d in _TRANSPORTS if d in self._directions] or [t for t, _ in _TRANSPORTS]
        fresh = [t for t in wanted if self._emitted.get(t) != self._pair]
        if not fresh:
            return []
        fields = {**self._pair_fields, "pc_id": self.pc_id}
        for transport in fresh:
            self._emitted[transport] = self._pair
        return [{"transport": t, **fields} for t in fresh]

    def figures(self) -> ConnectionFigures:
        f = ConnectionFigures(self.pc_id, connected_at=self._connected_at, is_p2p=self.is_p2p)
        if self._connected_at is not None and self._end is not None:
            f.session_duration_ms = max(0, self._end - self._connected_at)
        f.ice_reconnects = max(0, self._connected - 1)
        f.connection_failed = self._failed
        f.stats_reports = self._reports
        if self._reports:
            f.total_packets_sent = sent = _sum_totals(self._sent)
            f.total_packets_received = received = _sum_totals(self._received)
            f.total_sent_packets_lost = lost_sent = _sum(self._lost_sent)
            f.total_received_packets_lost = lost_received = _sum(self._lost_received)
            f.sent_packets_lost_pct = _loss_pct(lost_sent, sent)
            f.received_packets_lost_pct = _loss_pct(lost_received, received)
        if self._remote_received:
            f.remote_packets_received = _sum(self._remote_received)
        if self._pair is not None:
            if self._pair in self.stats:
                self._pair_fields = pair_fields(self.stats, self._pair)
            _pair_figures(f, self._pair, self._pair_fields)
        return f


_PAIR_FIGURES = ("type", "protocol", "address", "port")


def _pair_figures(f: ConnectionFigures, pair_id: str, fields: Json) -> None:
    f.candidate_pair_id = pair_id
    for side in ("local", "remote"):
        for name in _PAIR_FIGURES:
            value = fields.get(f"{side}_candidate_{name}")
            attr = f"{side}_candidate_type" if name == "type" else f"{side}_{name}"
            setattr(f, attr, int(value) if name == "port" and is_number(value) else value)
    f.uses_relay = "relay" in (f.local_candidate_type, f.remote_candidate_type)


def _epoch_ms(value: Any, fallback: int) -> int:
    """A stats timestamp as integer epoch ms; the line's when absent or implausible."""
    return int(value) if is_number(value) and value >= EPOCH_2000_MS else fallback


def _total(totals: dict[str, list[float]], oid: str, value: Any) -> None:
    """A cumulative counter summed over restarts: a value below the last starts a new run."""
    if is_number(value):
        run = totals.setdefault(oid, [0.0, 0.0])
        run[0] += run[1] if value < run[1] else 0.0
        run[1] = float(value)


def _keep(last: dict[str, float], oid: str, value: Any) -> None:
    number = as_number(value)
    if number is not None:
        last[oid] = number


def _sum_totals(totals: dict[str, list[float]]) -> int:
    return int(sum(done + last for done, last in totals.values()))


def _sum(values: dict[str, float]) -> int:
    return int(sum(max(0.0, v) for v in values.values()))


def _loss_pct(lost: int, packets: int) -> float:
    return 100 * lost / (lost + packets) if lost > 0 else 0.0
