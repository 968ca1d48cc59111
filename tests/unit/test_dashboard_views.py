"""What the dashboard draws, from rows: the concurrency steps agree with the API's
max_concurrent, the timeline puts a person's reconnects on one row and rooms under their
parent, and the peer verdict names the worst stretch in words support staff can repeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.quality.verdict import verdict
from rtk_sessions.sessions.accounting import concurrency_steps, max_concurrent
from rtk_sessions.sessions.repo import PeerRow, SessionRow
from rtk_sessions.ui.views import concurrency_chart, series_chart, timed_samples, timeline

T0 = 1_790_000_000_000

intervals = st.lists(
    st.tuples(st.integers(0, 50), st.one_of(st.none(), st.integers(0, 30))).map(
        lambda p: (p[0], None if p[1] is None else p[0] + p[1])
    ),
    max_size=12,
)


@given(intervals)
def test_the_highest_step_is_max_concurrent(found: list[tuple[int, int | None]]) -> None:
    steps = concurrency_steps(found)
    assert max((n for _, n in steps), default=0) == max_concurrent(found)
    assert [t for t, _ in steps] == sorted(t for t, _ in steps)
    ended = all(left is not None for _, left in found)
    assert not steps or steps[-1][1] == (0 if ended else sum(left is None for _, left in found))


def _session(sid: str, title: str, parent: str | None = None) -> SessionRow:
    return SessionRow(id=sid, meeting_id="m", parent_session_id=parent, title=title,
                      type="meeting", meta=None, status="ENDED", started_at=T0,
                      ended_at=T0 + 600_000, max_concurrent=0, open_count=0, closed_ms=0,
                      open_join_sum_ms=0, updated_at=T0)  # fmt: skip


def _peer(pid: str, session: str, user: str | None, name: str, start_s: int, end_s: int) -> PeerRow:
    return PeerRow(id=pid, session_id=session, user_id=user, custom_participant_id=None,
                   display_name=name, preset_name=None, preset_view_type="GROUP_CALL",
                   socket_session_id=None, joined_at=T0 + start_s * 1000,
                   left_at=T0 + end_s * 1000, updated_at=T0)  # fmt: skip


def test_reconnects_share_a_row_and_rooms_come_under_their_parent() -> None:
    main, room = _session("s1", "Standup"), _session("s2", "Room A", parent="s1")
    peers = [
        _peer("p1", "s1", "u-ada", "Ada", 0, 200),
        _peer("p2", "s1", "u-ada", "Ada", 300, 600),  # Ada again: a reconnect
        _peer("p3", "s1", None, "Bo", 60, 600),
        _peer("p4", "s2", "u-cy", "Cy", 100, 400),
    ]
    drawn = timeline(main, [room], peers, T0 + 10**9)
    assert [(g.title, [(r.label, r.reconnects, len(r.bars)) for r in g.rows]) for g in drawn.groups] == [
        ("", [("Ada", 1, 2), ("Bo", 0, 1)]),
        ("Room A", [("Cy", 0, 1)]),
    ]
    ada = drawn.groups[0].rows[0].bars
    assert ada[0].x == 0 and ada[1].x == 500 and ada[1].width == 500  # on a 0–1000 axis
    assert ada[0].title == "Ada: 2026-09-21 14:13:20 UTC – 2026-09-21 14:16:40 UTC (3 min 20 s)"
    capped = timeline(main, [room], peers, T0 + 10**9, max_rows=1)
    assert [[r.label for r in g.rows] for g in capped.groups] == [["Ada"]] and capped.hidden == 2
    chart = concurrency_chart(main, [room], peers, T0 + 10**9)
    assert chart["names"] == ["Standup", "Room A"]
    assert max(v for v in chart["data"][1] if v is not None) == max_concurrent(
        (p.joined_at, p.left_at) for p in peers if p.session_id == "s1"
    )


def _samples(losses: list[float], mos: list[float], start: datetime) -> list[dict[str, Any]]:
    return [
        {"timestamp": (start + timedelta(seconds=10 * i)).isoformat().replace("+00:00", "Z"),
         "packet_loss_pct": loss, "mos_quality": m, "jitter": 0.004, "rtt": 0.05}
        for i, (loss, m) in enumerate(zip(losses, mos, strict=True))
    ]  # fmt: skip


def test_the_verdict_names_the_worst_metric_how_bad_and_when() -> None:
    start = datetime(2026, 12, 6, 10, 3, 40, tzinfo=UTC)
    audio = _samples([0.1] * 3 + [12.0] * 13 + [0.2] * 4, [4.3] * 3 + [2.1] * 13 + [4.3] * 4, start)
    video = _samples([6.0] + [0.0] * 19, [3.9] + [4.4] * 19, start)
    found = verdict({"audio_producer": audio, "video_consumer": video, "audio_consumer": []}, "Bob")
    assert found.level == "poor" and (found.section, found.metric) == ("audio_producer", "loss")
    assert found.headline == "Audio from Bob lost 12 % of packets between 10:04 and 10:06; MOS fell to 2.1."


def test_a_stretch_is_one_streams_even_when_the_list_interleaves_two() -> None:
    start = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    bad = _samples([20.0] * 13, [2.0] * 13, start)
    good = _samples([0.0] * 13, [4.4] * 13, start)
    for e in bad:
        e.update(ssrc=1, peer_id="peer-bad")
    for e in good:
        e.update(ssrc=2, peer_id="peer-good")
    interleaved = [e for pair in zip(bad, good, strict=True) for e in pair]
    found = verdict({"audio_consumer": interleaved}, "Ann")
    assert found.headline == "Audio received by Ann lost 20 % of packets between 10:00 and 10:02; MOS fell to 2.0."
    chart = series_chart(
        "Packet loss", "%", timed_samples(interleaved), [("packet_loss_pct", "loss %", 1.0)]
    )
    assert chart is not None and chart["names"] == ["loss % · from peer-bad", "loss % · from peer-goo"]
    assert chart["data"][1] == [20.0] * 13 and chart["data"][2] == [0.0] * 13


def test_a_clean_call_and_a_silent_peer_get_plain_verdicts() -> None:
    start = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    clean = verdict({"audio_consumer": _samples([0.0, 0.4], [4.4, 4.2], start)}, "Ana")
    assert clean.level == "good"
    assert clean.headline == "No problem found for Ana: MOS stayed at 4.2 or above; packet loss at most 0.4 %."
    silent = verdict({"audio_consumer": [], "audio_consumer_cumulative": {}}, "Ana")
    assert silent.level == "unknown" and "No call-quality statistics" in silent.headline
