"""Deterministic demo data: three weeks of one app's meetings, as ingestion events (docs/events.md).

~40 recurring meetings with `sessions` top-level sessions over the past 21 days (business
hours, UTC; breakout rooms come on top), a few LIVE now; reconnects, `meeting.ended`, chat with
edits and pins, transcripts. Telemetry (device metadata, peer events, `peer.stats`) for every
peer of the ten most recent sessions and for enough others that over a third of all peers
have it (README, "Demo data"). Pure: all randomness comes from `random.Random(seed)`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rtk_sessions.demo import content as text
from rtk_sessions.demo.telemetry import Telemetry
from rtk_sessions.kit.timeutil import to_iso

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
HISTORY_DAYS = 21
SESSION_GAP = 20 * MINUTE  # at least this between two sessions of one meeting
BREAKOUT_SESSIONS = 5

Event = dict[str, Any]


@dataclass(frozen=True)
class Person:
    user_id: str
    custom_participant_id: str
    name: str
    device: int  # index into content.DEVICES
    ip: str
    camera: bool  # turns the camera on in calls


@dataclass
class Meeting:
    id: str
    title: str
    kind: str  # a key of content.KINDS
    pool: list[Person]  # the host first
    slot: int  # usual start, minutes after midnight UTC
    minutes: int  # usual length


@dataclass
class Stint:
    """One peer: a single connection of a person to a meeting."""

    peer_id: str
    socket: str
    person: Person
    meeting_id: str
    preset: str
    joined: int
    left: int | None  # None: still connected
    says_left: bool = True  # False: the meeting's `meeting.ended` closes it
    reason: str = "PEER_LEFT"
    parent_id: str | None = None
    title: str | None = None

    def until(self, now: int) -> int:
        return now if self.left is None else self.left


@dataclass
class Plan:
    """One top-level session: a meeting's window; `end` None means LIVE."""

    meeting: Meeting
    start: int
    end: int | None
    host_ends: bool = False
    stints: list[Stint] = field(default_factory=list)


def _business_days(now: int) -> list[int]:
    """Midnights (UTC) of the weekdays among the last HISTORY_DAYS days, today excluded."""
    today = now - now % DAY
    days = (today - back * DAY for back in range(1, HISTORY_DAYS + 1))
    return [day for day in days if (day // DAY + 3) % 7 < 5]  # 1970-01-01 was a Thursday


class _Demo:
    def __init__(self, rng: random.Random, now: int, seed: int) -> None:
        self.rng = rng
        self.now = now
        self.seed = seed
        self.out: list[tuple[int, int, Event]] = []

    def uid(self) -> str:
        return text.random_uuid(self.rng)

    def emit(self, at: int, kind: str, meeting_id: str, **fields: Any) -> None:
        self.out.append((at, len(self.out), {"type": kind, "meeting_id": meeting_id, **fields}))

    def finish(self) -> list[Event]:
        ordered = sorted(self.out, key=lambda item: (item[0], item[1]))
        return [
            {
                "id": f"demo-{self.seed}-{n:06d}",
                "type": body.pop("type"),
                "occurred_at": to_iso(at),
                **body,
            }
            for n, (at, _, body) in enumerate(ordered)
        ]

    # --- cast and calendar ------------------------------------------------------------

    def people(self, count: int = 160) -> list[Person]:
        rng = self.rng
        combos = [f"{first} {last}" for first in text.FIRST_NAMES for last in text.LAST_NAMES]
        names = [*text.SPECIAL_NAMES, *rng.sample(combos, count - len(text.SPECIAL_NAMES))]
        rng.shuffle(names)
        return [
            Person(
                self.uid(),
                f"emp-{1001 + i}",
                name,
                rng.randrange(len(text.DEVICES)),
                f"{rng.choice(('203.0.113', '198.51.100'))}.{rng.randint(1, 254)}",
                rng.random() < 0.6,
            )
            for i, name in enumerate(names)
        ]

    def meetings(self, people: list[Person]) -> list[Meeting]:
        rng = self.rng
        out = []
        for kind, titles in text.MEETING_TITLES.items():
            for title in titles:
                big = kind in ("webinar", "livestream") or "all-hands" in title
                size = 45 if big else rng.choice((3, 4, 5, 6, 6, 8, 8, 10, 12, 16, 24))
                minutes = rng.choice((45, 60, 90) if big else (15, 25, 30, 30, 45, 60))
                slot = rng.randrange(8 * 4, 17 * 4) * 15
                pool = rng.sample(people, size)
                out.append(Meeting(self.uid(), title, kind, pool, slot, minutes))
        return out

    def schedule(self, meetings: list[Meeting], sessions: int) -> list[Plan]:
        live = min(self.rng.randint(3, 5), sessions)
        plans = [
            Plan(m, self.now - self.rng.randint(10, 55) * MINUTE, None)
            for m in self.rng.sample(meetings, live)
        ]
        days = _business_days(self.now)
        weights = [
            2.0 if "standup" in m.title else 1.0 if m.kind == "group_call" else 0.5
            for m in meetings
        ]
        taken: dict[str, list[tuple[int, int]]] = {m.id: [] for m in meetings}
        for _ in range(100 * sessions):
            if len(plans) >= sessions:
                return plans
            meeting = self.rng.choices(meetings, weights)[0]
            window = self._window(meeting, days, taken[meeting.id])
            if window is not None:
                taken[meeting.id].append(window)
                plans.append(Plan(meeting, *window, host_ends=self.rng.random() < 0.25))
        raise ValueError(f"cannot fit {sessions} sessions into {HISTORY_DAYS} days")

    def _window(
        self, m: Meeting, days: list[int], taken: list[tuple[int, int]]
    ) -> tuple[int, int] | None:
        rng = self.rng
        for attempt in range(40):
            slot = m.slot if attempt < 20 else rng.randrange(8 * 4, 17 * 4) * 15
            start = rng.choice(days) + slot * MINUTE + rng.randint(-2 * MINUTE, 6 * MINUTE)
            length = max(10, round(m.minutes * rng.uniform(0.7, 1.3))) * MINUTE
            end = start + length + rng.randrange(MINUTE)
            if all(end + SESSION_GAP < s or e + SESSION_GAP < start for s, e in taken):
                return start, end
        return None

    # --- who is connected when --------------------------------------------------------

    def populate(self, plan: Plan) -> None:
        m, rng = plan.meeting, self.rng
        count = min(len(m.pool), 40, 2 + int(38 * rng.random() ** 2.5))
        if m.kind in ("webinar", "livestream"):
            count = rng.randint(12, 40)
        people = [m.pool[0], *rng.sample(m.pool[1:], count - 1)]
        _, _, host_preset, preset, _ = text.KINDS[m.kind]
        for i, person in enumerate(people):
            joined, left, says_left = self._times(plan, i)
            chosen = host_preset if i == 0 or (i == 1 and m.kind == "webinar") else preset
            plan.stints.append(
                Stint(self.uid(), self.uid(), person, m.id, chosen, joined, left, says_left)
            )
        for stint in list(plan.stints[1:]):
            if rng.random() < 0.1 and len(plan.stints) < 40:
                self._reconnect(plan, stint)

    def _times(self, plan: Plan, index: int) -> tuple[int, int | None, bool]:
        rng, start, end = self.rng, plan.start, plan.end
        if end is None:  # LIVE: the host stays, most others too
            if index == 0:
                return start, None, True
            joined = start + rng.randrange(max(1, self.now - MINUTE - start))
            if rng.random() < 0.85:
                return joined, None, True
            return joined, joined + rng.randrange(SECOND, self.now - 10 * SECOND - joined), True
        if index == 0:
            return start, end, not plan.host_ends
        joined = start + int(rng.random() ** 3 * (end - start) / 3) + rng.randrange(SECOND, MINUTE)
        if rng.random() < 0.6:
            if plan.host_ends:
                return joined, end, False
            return joined, end - rng.randrange(20 * SECOND), True
        return joined, joined + int((end - joined) * rng.uniform(0.3, 0.95)), True

    def _reconnect(self, plan: Plan, stint: Stint) -> None:
        """The connection drops; the person rejoins as a new peer a little later."""
        until = stint.until(self.now)
        cut = stint.joined + int((until - stint.joined) * self.rng.uniform(0.2, 0.8))
        back = cut + self.rng.randint(3 * SECOND, 3 * MINUTE)
        if back + MINUTE > until:
            return
        plan.stints.append(replace(stint, peer_id=self.uid(), socket=self.uid(), joined=back))
        stint.left, stint.says_left, stint.reason = cut, True, "NETWORK_DISCONNECTED"

    def breakouts(self, plan: Plan) -> None:
        """Some of the parent's participants spend a while in 2-3 breakout rooms."""
        assert plan.end is not None
        rng, span = self.rng, plan.end - plan.start
        rooms = rng.randint(2, 3)
        opens = plan.start + int(span * rng.uniform(0.2, 0.35))
        closes = opens + int(span * rng.uniform(0.3, 0.45))
        movers = [
            s
            for s in plan.stints[1:]
            if s.joined < opens - 10 * SECOND and s.until(self.now) > closes + 2 * MINUTE
        ]
        if len(movers) < rooms:
            return
        room_ids = [self.uid() for _ in range(rooms)]
        for i, stint in enumerate(movers):
            room = i % rooms
            plan.stints.append(
                replace(
                    stint,
                    peer_id=self.uid(),
                    socket=self.uid(),
                    meeting_id=room_ids[room],
                    joined=opens + rng.randint(SECOND, 4 * SECOND),
                    reason="PEER_LEFT",
                    left=closes + rng.randrange(5 * SECOND),
                    says_left=True,
                    parent_id=plan.meeting.id,
                    title=f"{plan.meeting.title} — Room {room + 1}",
                )
            )
            plan.stints.append(
                replace(
                    stint,
                    peer_id=self.uid(),
                    socket=self.uid(),
                    joined=closes + rng.randint(6 * SECOND, 15 * SECOND),
                )
            )
            stint.left, stint.says_left, stint.reason = opens, True, "MOVED_TO_BREAKOUT_ROOM"

    # --- events -----------------------------------------------------------------------

    def meeting_updates(self, meetings: list[Meeting]) -> None:
        rng, first = self.rng, self.now - (HISTORY_DAYS + 1) * DAY
        for m in meetings:
            meta = {"team": rng.choice(text.TEAMS), "recurring": True, "source": "demo"}
            self.emit(
                first + rng.randrange(HOUR),
                "meeting.updated",
                m.id,
                title=m.title,
                session_type=text.KINDS[m.kind][0],
                meta=meta,
            )
        for m in rng.sample([m for m in meetings if m.kind == "group_call"], 3):
            m.title = f"{m.title} (new format)"
            self.emit(self.now - 10 * DAY, "meeting.updated", m.id, title=m.title)

    def lifecycle(self, plan: Plan) -> None:
        view = text.KINDS[plan.meeting.kind][1]
        for s in plan.stints:
            who = s.person
            extra = {"parent_meeting_id": s.parent_id, "meeting_title": s.title}
            self.emit(
                s.joined,
                "peer.joined",
                s.meeting_id,
                peer_id=s.peer_id,
                user_id=who.user_id,
                custom_participant_id=who.custom_participant_id,
                display_name=who.name,
                preset_name=s.preset,
                preset_view_type=view,
                socket_session_id=s.socket,
                **(extra if s.parent_id else {}),
            )
            if s.left is not None and s.says_left:
                self.emit(s.left, "peer.left", s.meeting_id, peer_id=s.peer_id, reason=s.reason)
        if plan.host_ends and plan.end is not None:
            self.emit(plan.end, "meeting.ended", plan.meeting.id, reason="HOST_ENDED_MEETING")

    def chat(self, plan: Plan) -> None:
        rng = self.rng
        senders = [s for s in plan.stints if s.until(self.now) - s.joined > 30 * SECOND]
        for _ in range(rng.randint(0, min(40, 3 * len(senders)))):
            s = rng.choice(senders)
            until = s.until(self.now)
            at = rng.randint(s.joined + 5 * SECOND, until - 5 * SECOND)
            kind, payload = rng.choice(
                [("TEXT_MESSAGE", rng.choice(text.CHAT_MESSAGES))] * 18
                + [
                    ("IMAGE_MESSAGE", rng.choice(text.CHAT_IMAGES)),
                    ("FILE_MESSAGE", rng.choice(text.CHAT_FILES)),
                ]
            )
            msg = {
                "message_id": f"msg-{self.uid()}",
                "peer_id": s.peer_id,
                "payload_type": kind,
                "payload": payload,
            }
            self.emit(at, "chat.message", s.meeting_id, **msg)
            roll = rng.random()
            if roll < 0.1:  # a later edit, or a pin, of the same message
                edited = roll < 0.06 and kind == "TEXT_MESSAGE"
                later = rng.randint(at + SECOND, min(until, at + 2 * MINUTE))
                suffix = text.CHAT_EDIT_SUFFIX if edited else ""
                self.emit(
                    later,
                    "chat.message",
                    s.meeting_id,
                    **{**msg, "payload": payload + suffix},
                    is_edited=edited,
                    pinned=not edited,
                )

    def transcript(self, plan: Plan) -> None:
        rng, m = self.rng, plan.meeting
        end = self.now - 5 * SECOND if plan.end is None else plan.end
        host_preset = text.KINDS[m.kind][2]
        speakers = [
            s
            for s in plan.stints
            if s.meeting_id == m.id
            and (m.kind in ("group_call", "audio_room") or s.preset == host_preset)
        ]
        step = max(20 * SECOND, (end - plan.start) // 50)
        t = plan.start + rng.randint(10 * SECOND, 40 * SECOND)
        while t < end:
            length = rng.randint(2 * SECOND, 14 * SECOND)
            active = [s for s in speakers if s.joined <= t and t + length <= s.until(self.now)]
            if active:
                self._segment(rng.choice(active), t, length)
            t += length + rng.randint(step // 2, step * 3 // 2)

    def _segment(self, s: Stint, t: int, length: int) -> None:
        sentence = self.rng.choice(text.TRANSCRIPT_SENTENCES)
        if self.rng.random() < 0.1:  # an interim result first
            words = sentence.split()
            self.emit(
                t + length // 2,
                "transcript.segment",
                s.meeting_id,
                peer_id=s.peer_id,
                text=" ".join(words[: max(1, len(words) // 2)]),
                started_at=to_iso(t),
                ended_at=to_iso(t + length // 2),
                language="en-US",
                is_partial=True,
            )
        self.emit(
            min(self.now, t + length + self.rng.randint(200, 900)),
            "transcript.segment",
            s.meeting_id,
            peer_id=s.peer_id,
            text=sentence,
            started_at=to_iso(t),
            ended_at=to_iso(t + length),
            language="en-US",
        )


def generate_demo_events(now_ms: int, *, seed: int = 7, sessions: int = 300) -> list[Event]:
    """Demo events for one app, sorted by `occurred_at`, none later than `now_ms`."""
    if sessions < 1:
        raise ValueError("sessions must be at least 1")
    demo = _Demo(random.Random(seed), now_ms, seed)
    meetings = demo.meetings(demo.people())
    demo.meeting_updates(meetings)
    plans = demo.schedule(meetings, sessions)
    for plan in plans:
        demo.populate(plan)
    roomy = [
        p
        for p in plans
        if p.end is not None
        and p.meeting.kind == "group_call"
        and p.end - p.start >= 30 * MINUTE
        and len(p.stints) >= 6
    ]
    for plan in demo.rng.sample(roomy, min(len(roomy), BREAKOUT_SESSIONS)):
        demo.breakouts(plan)
    for plan in plans:
        demo.lifecycle(plan)
        demo.chat(plan)
        if plan.end is None or demo.rng.random() < 0.6:
            demo.transcript(plan)
    Telemetry(demo.rng, now_ms, demo.emit).add(plans)
    return demo.finish()


def iter_batches(events: Sequence[Event], size: int = 2000) -> Iterator[list[Event]]:
    """Consecutive slices of at most `size` events (the ingest limit is 5,000 per request)."""
    if size < 1:
        raise ValueError("size must be at least 1")
    for start in range(0, len(events), size):
        yield list(events[start : start + size])
