"""Timestamps as served: `to_iso` agrees with datetime's own formatting and round-trips through
the parser ingestion uses."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.kit.timeutil import rfc3339_ms, to_iso

YEAR_2000 = 946_684_800_000
YEAR_2100 = 4_102_444_800_000


def test_known_instants() -> None:
    assert to_iso(0) == "1970-01-01T00:00:00.000Z"
    assert to_iso(1_767_607_200_123) == "2026-01-05T10:00:00.123Z"
    assert to_iso(YEAR_2000 - 1) == "1999-12-31T23:59:59.999Z"


@given(st.integers(YEAR_2000, YEAR_2100))
def test_to_iso_is_datetimes_format_and_parses_back(ms: int) -> None:
    whole = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
    expected = whole.isoformat(timespec="milliseconds")
    assert to_iso(ms) == expected.replace("+00:00", "Z")
    assert rfc3339_ms(to_iso(ms)) == ms
