"""Demo telemetry: which peers carry it, their device metadata and peer events, and a small
model of a peer's `getStats()` counters for `peer.stats` events.

Every peer of the RECENT_SESSIONS most recent sessions (LIVE ones included) has telemetry,
with statistics every RECENT_STATS_S; enough randomly chosen others have it, every
OLDER_STATS_S, that TELEMETRY_SHARE of all peers do (README, "Demo data").

Each stream's cumulative counters advance one polling interval at a time (audio ~40 kbps at
50 packets/s; video 720p ~1.2 Mbps, 360p when limited). A peer's network is drawn once: a
base loss rate and round trip, random one-interval loss bursts, and for some peers a bad patch
of a few minutes (heavy loss, a long round trip, bandwidth-limited video), so that a peer
report has something to show.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rtk_sessions.demo import content as text
from rtk_sessions.demo.content import random_uuid
from rtk_sessions.kit.timeutil import to_iso

if TYPE_CHECKING:
    from rtk_sessions.demo.events import Plan, Stint

SECOND = 1000
MINUTE = 60 * SECOND
RECENT_SESSIONS = 10
TELEMETRY_SHARE = 0.34  # of all peers: a little more than the third the README promises
RECENT_STATS_S, OLDER_STATS_S = 10, 60
BAD_PATCH_SHARE = 0.3  # of peers with stats
BURST_SHARE = 0.05  # of intervals


@dataclass
class Telemetry:
    """Adds the telemetry events of a demo's peers through `emit(at, type, meeting_id, **body)`."""

    rng: random.Random
    now: int
    emit: Callable[..., None]

    def add(self, plans: list[Plan]) -> None:
        """Device metadata, peer events and `peer.stats` for the peers the module docstring
        says; the others get none (a client without telemetry reporting)."""
        rooms = sorted(_rooms(plans), key=lambda r: r.start, reverse=True)
        recent = [(s, r) for r in rooms[:RECENT_SESSIONS] for s in r.stints]
        older = [(s, r) for r in rooms[RECENT_SESSIONS:] for s in r.stints]
        wanted = math.ceil(TELEMETRY_SHARE * (len(recent) + len(older))) - len(recent)
        chosen = self.rng.sample(older, max(0, min(wanted, len(older))))
        for interval_s, peers in ((RECENT_STATS_S, recent), (OLDER_STATS_S, chosen)):
            for stint, room in peers:
                self.metadata(stint, text.KINDS[room.kind][4])
                self.peer_events(stint)
                self.stats(stint, room, interval_s)

    def metadata(self, s: Stint, room_view_type: str) -> None:
        rng = self.rng
        agent, device = text.DEVICES[s.person.device]
        at = min(s.joined + rng.randint(500, 3000), s.until(self.now))
        pc = {
            "effective_network_type": rng.choice(text.NETWORK_TYPES),
            "reflexive_connectivity": True,
            "relay_connectivity": True,
            "turn_connectivity": rng.random() < 0.9,
            "sdp": [],
        }
        mic = {
            "device_id": random_uuid(self.rng).replace("-", ""),
            "kind": "audioinput",
            "label": rng.choice(text.AUDIO_DEVICES),
        }
        self.emit(
            at,
            "peer.metadata",
            s.meeting_id,
            peer_id=s.peer_id,
            user_agent=agent,
            device_info=dict(device),
            ip=s.person.ip,
            sdk_name="web-core",
            sdk_type="web",
            sdk_version="1.21.1",
            room_view_type=room_view_type,
            pc_metadata=pc,
            selected_device=mic,
        )

    def peer_events(self, s: Stint) -> None:
        until = s.until(self.now)
        if until - s.joined < 20 * SECOND:
            return
        for _ in range(self.rng.randint(1, 4)):
            name, meta = self.rng.choice(text.PEER_EVENTS)
            self.emit(
                self.rng.randint(s.joined + SECOND, until - SECOND),
                "peer.event",
                s.meeting_id,
                peer_id=s.peer_id,
                name=name,
                metadata=dict(meta),
            )

    def stats(self, s: Stint, room: Room, interval_s: int) -> None:
        """Samples from 5 s after the join (sooner for a short stay) until the peer left."""
        last = min(s.until(self.now), self.now - SECOND)
        first = min(s.joined + 5 * SECOND, s.joined + (last - s.joined) // 4)
        senders = [o for o in room.stints if o is not s and room.sends(o)]
        near = min(senders, key=lambda o: abs(o.joined - s.joined)) if senders else None
        remote = (near.peer_id, room.sends(near)) if near else None
        streams = media_streams(self.rng, room.sends(s), remote)
        for t, samples in stats_series(self.rng, first, last, streams, interval_s):
            self.emit(t, "peer.stats", s.meeting_id, peer_id=s.peer_id, samples=samples)


@dataclass(frozen=True)
class Room:
    """The peers of one session: a top-level meeting window or one of its breakout rooms."""

    kind: str
    start: int
    host_preset: str
    stints: list[Stint]

    def sends(self, s: Stint) -> tuple[str, ...]:
        """What a peer sends: everyone in a group call, elsewhere only hosts and presenters;
        a microphone, and a camera if the person turns it on (never in an audio room)."""
        if self.kind != "group_call" and s.preset != self.host_preset:
            return ()
        camera = s.person.camera and self.kind != "audio_room"
        return ("audio", "video") if camera else ("audio",)


def _rooms(plans: list[Plan]) -> list[Room]:
    out = []
    for plan in plans:
        by_room: dict[str, list[Stint]] = {}
        for stint in plan.stints:
            by_room.setdefault(stint.meeting_id, []).append(stint)
        host_preset = text.KINDS[plan.meeting.kind][2]
        for room_id, stints in by_room.items():
            start = plan.start if room_id == plan.meeting.id else min(s.joined for s in stints)
            out.append(Room(plan.meeting.kind, start, host_preset, stints))
    return out


@dataclass
class MediaStream:
    """One RTP stream of a peer and its cumulative counters so far."""

    kind: str  # audio | video
    direction: str  # outbound | inbound
    ssrc: int
    ids: dict[str, str]  # mid, producer_id / consumer_id, remote_peer_id
    counters: dict[str, float] = field(default_factory=dict)
    limits: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("cpu", "bandwidth", "none", "other"), 0.0)
    )


@dataclass(frozen=True)
class Network:
    """A peer's network: base loss rate and round trip (s), and its bad patch if any (ms)."""

    loss: float
    rtt: float
    patch: tuple[int, int] | None

    @classmethod
    def draw(cls, rng: random.Random, first_ms: int, last_ms: int) -> Network:
        loss, rtt = rng.choice((0.0005, 0.002, 0.002, 0.01, 0.04)), rng.uniform(0.02, 0.25)
        length = rng.randint(3, 8) * MINUTE
        if rng.random() >= BAD_PATCH_SHARE or last_ms - first_ms < 2 * length:
            return cls(loss, rtt, None)
        start = rng.randint(first_ms, last_ms - length)
        return cls(loss, rtt, (start, start + length))

    def at(self, rng: random.Random, t: int) -> tuple[float, float]:
        """(loss rate, round trip in s) of the interval ending at `t`."""
        if self.patch and self.patch[0] <= t <= self.patch[1]:
            return rng.uniform(0.05, 0.15), rng.uniform(0.35, 0.9)
        burst = rng.random() < BURST_SHARE
        loss = self.loss * (15 if burst else rng.uniform(0, 2))
        return loss, self.rtt * rng.uniform(0.8, 2.5 if burst else 1.2)


def media_streams(
    rng: random.Random, sends: tuple[str, ...], remote: tuple[str, tuple[str, ...]] | None
) -> list[MediaStream]:
    """The kinds a peer `sends` (audio, video), and those it receives from a `remote` (peer id,
    kinds)."""
    pairs = [(k, "outbound") for k in sends]
    pairs += [(k, "inbound") for k in remote[1]] if remote else []
    out = []
    for mid, (kind, direction) in enumerate(pairs):
        ids = {"mid": str(mid)}
        if direction == "outbound":
            ids["producer_id"] = random_uuid(rng)
        elif remote:
            ids |= {"consumer_id": random_uuid(rng), "remote_peer_id": remote[0]}
        out.append(MediaStream(kind, direction, rng.getrandbits(32), ids))
    return out


def stats_series(
    rng: random.Random,
    first_ms: int,
    last_ms: int,
    streams: list[MediaStream],
    interval_s: int,
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(time, samples) every `interval_s` from `first_ms` to `last_ms`, one sample per stream."""
    pc_id = f"pc-{random_uuid(rng)}"
    network = Network.draw(rng, first_ms, last_ms)
    for t in range(first_ms, last_ms + 1, interval_s * 1000):
        loss, rtt = network.at(rng, t)
        stamp = to_iso(t)
        yield (
            t,
            [
                {
                    "timestamp": stamp,
                    "kind": st.kind,
                    "direction": st.direction,
                    "source": "microphone" if st.kind == "audio" else "camera",
                    "ssrc": st.ssrc,
                    "pc_id": pc_id,
                    **st.ids,
                    **advance(rng, st, loss, interval_s),
                    "jitter": round(rng.uniform(0.001, 0.008) + loss / 4, 4),
                    "round_trip_time": round(rtt, 4),
                }
                for st in streams
            ],
        )


def _bump(counters: dict[str, float], **deltas: float) -> None:
    for key, delta in deltas.items():
        total = counters.get(key, 0) + delta
        counters[key] = total if isinstance(total, int) else round(total, 3)


def advance(rng: random.Random, st: MediaStream, loss: float, interval_s: int) -> dict[str, Any]:
    """Advance the stream's counters by one interval at packet-loss rate `loss`; the sample's
    counter fields."""
    c, out, video = st.counters, st.direction == "outbound", st.kind == "video"
    limited = video and (loss > 0.02 or rng.random() < 0.03)
    kbps = rng.uniform(280, 450) if limited else rng.uniform(900, 1500) if video else 40.0
    nbytes = int(kbps * 125 * interval_s * rng.uniform(0.97, 1.03))
    packets = nbytes // 1100 + 1 if video else 50 * interval_s + rng.randint(-4, 4)
    lost = 0 if out else int(packets * loss)
    side = "sent" if out else "received"
    _bump(
        c,
        **{
            f"packets_{side}": packets - lost,
            f"bytes_{side}": nbytes * (packets - lost) // packets,
        },
    )
    if video:
        return _advance_video(rng, st, loss, limited, packets, interval_s)
    if not out:
        emitted = 48_000 * interval_s  # audio samples played out
        _bump(
            c,
            packets_lost=lost,
            jitter_buffer_emitted_count=emitted,
            jitter_buffer_delay=emitted * (0.04 + loss),
            concealment_events=lost // 3,
        )
    return dict(c)


def _advance_video(
    rng: random.Random, st: MediaStream, loss: float, limited: bool, packets: int, interval_s: int
) -> dict[str, Any]:
    c, out = st.counters, st.direction == "outbound"
    fps = rng.uniform(12, 20) if limited else rng.uniform(24, 30)
    frames, key, nacks = int(fps * interval_s), int(rng.random() < 0.1), int(packets * loss)
    width, height = (640, 360) if limited else (1280, 720)
    coded = "encoded" if out else "decoded"
    lost = 0 if out else nacks
    _bump(
        c,
        **{f"frames_{coded}": frames - lost // 8, f"key_frames_{coded}": key},
        nack_count=nacks,
        pli_count=key,
        fir_count=0,
    )
    extra: dict[str, Any] = {}
    if out:
        reason = "bandwidth" if limited else "none"
        st.limits[reason] += interval_s
        changed = int(c.get("frame_height", height) != height)
        _bump(c, quality_limitation_resolution_changes=changed)
        extra = {
            "quality_limitation_reason": reason,
            "quality_limitation_durations": dict(st.limits),
        }
    else:
        _bump(
            c,
            packets_lost=lost,
            frames_dropped=lost // 8,
            jitter_buffer_emitted_count=frames,
            jitter_buffer_delay=frames * (0.04 + loss),
        )
    c.update(frames_per_second=round(fps, 1), frame_width=width, frame_height=height)
    return {**c, **extra}
