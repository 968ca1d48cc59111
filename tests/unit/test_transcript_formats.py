"""Transcript files (docs/api-decisions.md): offsets, ends, and the four formats.

Offsets are milliseconds from the session start T0; every expected figure is worked out by hand
in the comment next to it. SRT and VTT are read back with the `srt` and `webvtt-py` libraries.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import srt  # type: ignore[import-untyped]
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from rtk_sessions.transcripts.formats import (
    CONTENT_TYPES,
    EXTENSIONS,
    FORMATS,
    Segment,
    Speaker,
    TimedSegment,
    parse_format,
    speaker_name,
    timed,
    write_transcript,
)

T0 = 1_723_025_729_000  # 2024-08-07T10:15:29.000Z, the session start
SEC = 1_000

ALICE = Speaker("peer-123", "user-456", "cust-789", "Alice", T0, None)
BOB = Speaker("peer-234", "user-567", "cust-890", "Bob", T0 + 2 * SEC, T0 + 60 * SEC)


def seg(speaker: Speaker, text: str, start: int, end: int | None = None) -> Segment:
    """A segment at offsets from T0."""
    return Segment(speaker, text, T0 + start, None if end is None else T0 + end)


def spans(*segments: Segment) -> list[tuple[int, int]]:
    return [(t.start_ms, t.end_ms) for t in timed(segments, T0)]


def render(fmt: str, segments: list[Segment]) -> str:
    out = io.StringIO(newline="")
    assert write_transcript(fmt, iter(segments), T0, out) == len(segments)
    return out.getvalue()


EXAMPLE = [seg(ALICE, "Hello everyone", 1000, 2500), seg(BOB, "Hi Alice", 3000, 4500)]


# --- format names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "CSV"), ("", "CSV"), ("csv", "CSV"), ("Json", "JSON"), ("srt", "SRT"), ("VTT", "VTT")],
)
def test_parse_format_accepts_any_case(value: str | None, expected: str) -> None:
    assert parse_format(value) == expected


@pytest.mark.parametrize("value", ["xyz", " srt", "txt", "ſrt"])  # "ſ".upper() == "S"
def test_parse_format_rejects_others_and_lists_them(value: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_format(value)
    assert str(info.value) == (
        f"format must be one of CSV, JSON, SRT, VTT (any case); got {value!r}"
    )


def test_every_format_has_a_content_type_and_extension() -> None:
    assert set(CONTENT_TYPES) == set(EXTENSIONS) == set(FORMATS) == {"CSV", "JSON", "SRT", "VTT"}
    assert EXTENSIONS["VTT"] == "vtt"
    assert CONTENT_TYPES["SRT"] == "application/x-subrip; charset=utf-8"


# --- offsets and ends ---------------------------------------------------------------------


def test_end_is_ended_at_when_given() -> None:
    assert spans(seg(ALICE, "a", 1000, 2500), seg(BOB, "b", 1500)) == [(1000, 2500), (1500, 6500)]


def test_end_is_next_start_when_sooner_than_five_seconds() -> None:
    # Alice 1000 → Bob starts 3000 (< 1000 + 5000): Alice ends 3000; Bob last: 3000 + 5000
    assert spans(seg(ALICE, "a", 1000), seg(BOB, "b", 3000)) == [(1000, 3000), (3000, 8000)]


def test_end_is_capped_at_five_seconds() -> None:
    # Alice 1000, next start 10000 > 6000: Alice ends 6000; Bob last: 15000
    assert spans(seg(ALICE, "a", 1000), seg(BOB, "b", 10_000)) == [(1000, 6000), (10_000, 15_000)]


def test_next_start_counts_the_same_speaker() -> None:
    assert spans(seg(ALICE, "a", 0), seg(ALICE, "b", 1200)) == [(0, 1200), (1200, 6200)]


def test_offsets_are_clamped_at_zero() -> None:
    # started 2 s before T0, next start at +1 s: (-2000 → 0, 1000)
    # wholly before T0 (-8 s to -7 s): (0, 0)
    early = seg(ALICE, "a", -8000, -7000)
    assert spans(early, seg(ALICE, "b", -2000), seg(BOB, "c", 1000)) == [
        (0, 0),
        (0, 1000),
        (1000, 6000),
    ]


def test_ended_at_before_start_is_clamped_to_start() -> None:
    assert spans(seg(ALICE, "a", 4000, 3000)) == [(4000, 4000)]


def test_overlapping_speakers() -> None:
    # Alice talks 1 s–9 s (ended_at given) while Bob starts at 2 s and Carol at 4 s:
    # Alice keeps 9000; Bob ends at Carol's start 4000; Carol is last: 4000 + 5000
    carol = Speaker("peer-345", None, None, "Carol", None, None)
    got = spans(seg(ALICE, "a", 1000, 9000), seg(BOB, "b", 2000), seg(carol, "c", 4000))
    assert got == [(1000, 9000), (2000, 4000), (4000, 9000)]


def test_segments_starting_together_end_at_the_next_later_start() -> None:
    # Alice and Bob both at 1000, Carol at 2500: both end 2500, not at each other's start
    carol = Speaker("peer-345", None, None, None, None, None)
    got = spans(seg(ALICE, "a", 1000), seg(BOB, "b", 1000), seg(carol, "c", 2500))
    assert got == [(1000, 2500), (1000, 2500), (2500, 7500)]


def test_timed_streams_with_one_segment_of_look_ahead() -> None:
    pulled: list[int] = []

    def source() -> Iterator[Segment]:
        for i in range(1000):
            pulled.append(i)
            yield seg(ALICE, str(i), i * SEC)

    stream = timed(source(), T0)
    first = next(stream)
    assert (first.text, len(pulled)) == ("0", 2)
    assert sum(1 for _ in stream) == 999


def test_speaker_name_falls_back_from_display_name_to_cpi_to_peer_id() -> None:
    assert speaker_name("Alice", "cust-1", "peer-1") == "Alice"
    assert speaker_name(None, "cust-1", "peer-1") == "cust-1"
    assert speaker_name("  ", "cust-1", "peer-1") == "cust-1"
    assert speaker_name(None, None, "peer-1") == "peer-1"
    assert speaker_name("", "", "peer-1") == "peer-1"
    nameless = Speaker("peer-9", None, "cust-9", None, None, None)
    anonymous = Speaker("peer-8", None, None, None, None, None)
    names = [t.speaker_name for t in timed([seg(nameless, "x", 0), seg(anonymous, "y", 1)], T0)]
    assert names == ["cust-9", "peer-8"]


# --- CSV ----------------------------------------------------------------------------------


def test_csv_matches_the_documented_form() -> None:
    assert render("CSV", EXAMPLE) == (
        '"1000","peer-123","user-456","cust-789","Alice","Hello everyone"\r\n'
        '"3000","peer-234","user-567","cust-890","Bob","Hi Alice"\r\n'
    )


def test_csv_missing_ids_are_empty_and_text_round_trips() -> None:
    speaker = Speaker("peer-1", None, "cust-1", None, None, None)
    text = 'She said "no",\r\nthen left 😀'
    row = next(csv.reader(io.StringIO(render("csv", [seg(speaker, text, 500)]), newline="")))
    assert row == ["500", "peer-1", "", "cust-1", "cust-1", text]


# --- JSON ---------------------------------------------------------------------------------


def test_json_matches_the_documented_form() -> None:
    assert json.loads(render("JSON", EXAMPLE)) == [
        {
            "startTime": 1000,
            "endTime": 2500,
            "sentence": "Hello everyone",
            "peerData": {
                "id": "peer-123",
                "userId": "user-456",
                "displayName": "Alice",
                "cpi": "cust-789",
                "joinedAt": "2024-08-07T10:15:29.000Z",
                "leftAt": "",
            },
        },
        {
            "startTime": 3000,
            "endTime": 4500,
            "sentence": "Hi Alice",
            "peerData": {
                "id": "peer-234",
                "userId": "user-567",
                "displayName": "Bob",
                "cpi": "cust-890",
                "joinedAt": "2024-08-07T10:15:31.000Z",
                "leftAt": "2024-08-07T10:16:29.000Z",
            },
        },
    ]


def test_json_never_holds_null_and_keeps_utf8() -> None:
    anonymous = Speaker("peer-8", None, None, None, None, None)
    text = render("JSON", [seg(anonymous, "grüße 😀\n", 0)])
    assert "null" not in text
    assert "grüße 😀" in text
    assert json.loads(text)[0]["peerData"] == {
        "id": "peer-8",
        "userId": "",
        "displayName": "",
        "cpi": "",
        "joinedAt": "",
        "leftAt": "",
    }


def test_json_of_nothing_is_an_empty_array() -> None:
    assert json.loads(render("JSON", [])) == []


# --- SRT ----------------------------------------------------------------------------------


def test_srt_matches_the_documented_form() -> None:
    text = render("SRT", EXAMPLE)
    assert text == (
        "1\n00:00:01,000 --> 00:00:02,500\nAlice: Hello everyone\n\n"
        "2\n00:00:03,000 --> 00:00:04,500\nBob: Hi Alice\n\n"
    )
    subs = list(srt.parse(text))
    assert [(s.index, s.start, s.end, s.content) for s in subs] == [
        (1, timedelta(seconds=1), timedelta(seconds=2.5), "Alice: Hello everyone"),
        (2, timedelta(seconds=3), timedelta(seconds=4.5), "Bob: Hi Alice"),
    ]


def test_srt_cue_is_one_line_so_no_text_can_split_it() -> None:
    # a blank line, and a lone number followed by a timestamp-like line, would each start a
    # new cue in SubRip readers; both are folded into one line
    sneaky = "we meet at\n\n2\r\n00:00:09,000 --> 00:00:10,000\rok"
    subs = list(srt.parse(render("SRT", [seg(ALICE, sneaky, 1000), seg(BOB, "fine", 2000)])))
    assert [s.content for s in subs] == [
        "Alice: we meet at 2 00:00:09,000 --> 00:00:10,000 ok",
        "Bob: fine",
    ]


# --- VTT ----------------------------------------------------------------------------------


def read_vtt(text: str) -> list[webvtt.Caption]:
    return list(webvtt.from_buffer(io.StringIO(text), strict=True).captions)


def test_vtt_uses_voice_tags() -> None:
    text = render("VTT", EXAMPLE)
    assert text == (
        "WEBVTT\n\n"
        "1\n00:00:01.000 --> 00:00:02.500\n<v Alice>Hello everyone\n\n"
        "2\n00:00:03.000 --> 00:00:04.500\n<v Bob>Hi Alice\n"
    )
    got = [(c.identifier, c.start, c.end, c.voice, c.text) for c in read_vtt(text)]
    assert got == [
        ("1", "00:00:01.000", "00:00:02.500", "Alice", "Hello everyone"),
        ("2", "00:00:03.000", "00:00:04.500", "Bob", "Hi Alice"),
    ]


def test_vtt_escapes_markup_arrows_and_drops_blank_lines() -> None:
    odd = Speaker("peer-1", None, None, "<b>A & B</b>\n", None, None)
    text = "x --> y <i>\n\n \nsecond & line"
    (caption,) = read_vtt(render("VTT", [seg(odd, text, 0)]))
    assert caption.voice == "&lt;b&gt;A &amp; B&lt;/b&gt;"
    assert caption.raw_text == (
        "<v &lt;b&gt;A &amp; B&lt;/b&gt;>x --&gt; y &lt;i&gt;\nsecond &amp; line"
    )
    assert html.unescape(caption.text) == "x --> y <i>\nsecond & line"


def test_vtt_name_ending_in_dashes_does_not_form_an_arrow() -> None:
    dashes = Speaker("peer-1", None, None, "Ann --", None, None)
    text = render("VTT", [seg(dashes, "hi", 0)])
    assert "<v Ann -- >hi" in text
    (caption,) = read_vtt(text)
    assert (caption.voice or "").strip() == "Ann --"


# --- edges shared by SRT and VTT ------------------------------------------------------------


def test_zero_length_segments_become_one_millisecond_cues() -> None:
    segments = [seg(ALICE, "blip", 1000, 1000)]
    assert json.loads(render("JSON", segments))[0]["endTime"] == 1000  # exact in data formats
    (sub,) = srt.parse(render("SRT", segments))
    assert (sub.start, sub.end) == (timedelta(seconds=1), timedelta(seconds=1.001))
    (caption,) = read_vtt(render("VTT", segments))
    assert (caption.start, caption.end) == ("00:00:01.000", "00:00:01.001")


def test_hours_grow_past_99() -> None:
    segments = [seg(ALICE, "still here", 100 * 3600 * SEC + 1, 100 * 3600 * SEC + 2)]
    srt_text = render("SRT", segments)
    assert "100:00:00,001 --> 100:00:00,002" in srt_text
    (sub,) = srt.parse(srt_text)
    assert sub.start == timedelta(hours=100, milliseconds=1)
    (caption,) = read_vtt(render("VTT", segments))
    assert (caption.start, caption.end) == ("100:00:00.001", "100:00:00.002")


def test_empty_transcripts() -> None:
    assert render("CSV", []) == ""
    assert render("SRT", []) == ""
    assert render("VTT", []) == "WEBVTT\n"
    assert read_vtt(render("VTT", [])) == []


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        write_transcript("txt", [], T0, io.StringIO())


# --- properties ---------------------------------------------------------------------------

AWKWARD = st.text(alphabet="ab <>&-:,.0123456789\n\r\t\u2028\x0b\x00é😀", max_size=40)
NASTY = st.sampled_from(["", " ", "--", "-->", "Ann -", "<v x>", "&amp;", "\n\n", "1\n0:0:0,0"])
TEXTS = st.one_of(NASTY, AWKWARD, st.text(max_size=40))
NAMES = st.one_of(st.none(), TEXTS)
SPEAKERS = st.builds(
    Speaker,
    peer_id=TEXTS,
    user_id=NAMES,
    custom_participant_id=NAMES,
    display_name=NAMES,
    joined_at_ms=st.none(),
    left_at_ms=st.none(),
)
STARTS = st.integers(min_value=-20 * SEC, max_value=101 * 3600 * SEC)
SEGMENT = st.tuples(SPEAKERS, TEXTS, STARTS, st.one_of(st.none(), st.integers(-SEC, 20 * SEC)))


def build(raw: list[tuple[Speaker, str, int, int | None]]) -> list[Segment]:
    ordered = sorted(raw, key=lambda r: r[2])
    return [seg(sp, text, s, None if d is None else s + d) for sp, text, s, d in ordered]


def cue_span(t: TimedSegment) -> tuple[int, int]:
    return t.start_ms, max(t.end_ms, t.start_ms + 1)


@settings(max_examples=300, deadline=None)
@given(raw=st.lists(SEGMENT, max_size=8))
def test_every_transcript_parses_with_one_cue_per_segment(
    raw: list[tuple[Speaker, str, int, int | None]],
) -> None:
    segments = build(raw)
    placed = list(timed(segments, T0))
    assert all(0 <= t.start_ms <= t.end_ms for t in placed)

    subs = list(srt.parse(render("SRT", segments)))
    assert [s.index for s in subs] == list(range(1, len(segments) + 1))
    ms = timedelta(milliseconds=1)
    assert [(s.start // ms, s.end // ms) for s in subs] == [cue_span(t) for t in placed]
    assert all(s.end > s.start for s in subs)
    for sub, t in zip(subs, placed, strict=True):
        name = " ".join(t.speaker_name.split())
        label = f"{name}: " if name else ""
        assert sub.content.split() == f"{label}{t.text}".split()

    captions = read_vtt(render("VTT", segments))
    assert [c.identifier for c in captions] == [str(i) for i in range(1, len(segments) + 1)]
    got = [(c.start_time.in_milliseconds(), c.end_time.in_milliseconds()) for c in captions]
    assert got == [cue_span(t) for t in placed]
    for caption, t in zip(captions, placed, strict=True):
        assert html.unescape(caption.text).split() == t.text.split()
        if t.speaker_name.strip():
            assert html.unescape(caption.voice or "").split() == t.speaker_name.split()


@settings(max_examples=100, deadline=None)
@given(raw=st.lists(SEGMENT, max_size=8))
def test_csv_and_json_carry_text_exactly(raw: list[tuple[Speaker, str, int, int | None]]) -> None:
    segments = build(raw)
    rows = list(csv.reader(io.StringIO(render("CSV", segments), newline="")))
    assert [r[5] for r in rows] == [s.text for s in segments]
    elements = json.loads(render("JSON", segments))
    assert [e["sentence"] for e in elements] == [s.text for s in segments]
