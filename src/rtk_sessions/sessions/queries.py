"""Query-string parsing for the sessions endpoints: every mistake is a 400 that says the fix."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from rtk_sessions.kit.errors import BadRequest
from rtk_sessions.kit.timeutil import parse_query_time_ms
from rtk_sessions.sessions.repo import SQL_INT_CAP, ParticipantQuery, SessionQuery

MAX_PER_PAGE = 100
_RANGE = re.compile(r"^\s*(\d*)\s*(:?)\s*(\d*)\s*$")


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        return default
    if value not in allowed:
        raise BadRequest(f"{name}={value!r} is not allowed; use one of: {', '.join(allowed)}")
    return value


def whole_number(
    params: Mapping[str, str], name: str, default: int, low: int, high: int | None
) -> int:
    """A whole number; `2.0` is accepted because the SDK types page_no as float."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    limit = f"between {low} and {high}" if high is not None else f"≥ {low}"
    if (
        not math.isfinite(value)
        or value != int(value)
        or value < low
        or (high is not None and value > high)
    ):
        raise BadRequest(f"{name}={raw!r}: use a whole number {limit}")
    # Bigger numbers are valid requests (a page past the end, an open-ended range) that do
    # not fit a 64-bit SQL integer; clamping keeps their meaning.
    return min(int(value), SQL_INT_CAP)


def flag(params: Mapping[str, str], name: str) -> bool:
    raw = (params.get(name) or "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name}={params.get(name)!r}: use true or false")
    return raw in ("true", "1")


def _page(params: Mapping[str, str]) -> tuple[int, int]:
    page_no = whole_number(params, "page_no", 1, 0, None) or 1
    per_page = whole_number(params, "per_page", 25, 1, MAX_PER_PAGE)
    return page_no, per_page


def _time(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    value = parse_query_time_ms(raw)
    if value is None:
        raise BadRequest(
            f"{name}={raw!r} is not an ISO 8601 time; use e.g. 2026-01-31T09:00:00Z "
            "(an offset such as +02:00 is allowed; no offset means UTC)"
        )
    return value


def participants_range(raw: str | None) -> tuple[int | None, int | None]:
    """`MIN:MAX`, `MIN:`, `:MAX` or `N` on max_concurrent_participants, inclusive."""
    if raw is None or raw == "":
        return None, None
    m = _RANGE.match(raw)
    bad = BadRequest(
        f"participants={raw!r}: use MIN:MAX, MIN:, :MAX or N with non-negative whole numbers "
        "and MIN ≤ MAX (e.g. participants=2:10)"
    )
    if not m or (not m.group(1) and not m.group(3)):
        raise bad
    low = min(int(m.group(1)), SQL_INT_CAP) if m.group(1) else None
    high = min(int(m.group(3)), SQL_INT_CAP) if m.group(3) else None
    if not m.group(2):
        high = low
    if low is not None and high is not None and low > high:
        raise bad
    return low, high


def session_query(params: Mapping[str, str]) -> SessionQuery:
    page_no, per_page = _page(params)
    start, end = _time(params, "start_time"), _time(params, "end_time")
    if start is not None and end is not None and start > end:
        raise BadRequest("start_time is after end_time; swap them")
    low, high = participants_range(params.get("participants"))
    status = _choice(params, "status", ("LIVE", "ENDED"), "")
    return SessionQuery(
        page_no=page_no,
        per_page=per_page,
        sort_by=_choice(params, "sort_by", ("minutesConsumed", "createdAt"), "createdAt"),
        descending=_choice(params, "sort_order", ("ASC", "DESC"), "DESC") == "DESC",
        start_time=start,
        end_time=end,
        status=status or None,
        search=params.get("search") or None,
        associated_id=params.get("associated_id") or params.get("meeting_id") or None,
        min_participants=low,
        max_participants=high,
    )


@dataclass(frozen=True)
class ParticipantsRequest:
    query: ParticipantQuery
    include_peer_events: bool
    consolidated: bool


def participants_request(params: Mapping[str, str]) -> ParticipantsRequest:
    page_no, per_page = _page(params)
    query = ParticipantQuery(
        page_no=page_no,
        per_page=per_page,
        sort_by=_choice(params, "sort_by", ("joinedAt", "duration"), "joinedAt"),
        descending=_choice(params, "sort_order", ("ASC", "DESC"), "ASC") == "DESC",
        search=params.get("search") or None,
    )
    view = _choice(params, "view", ("raw", "consolidated"), "raw")
    return ParticipantsRequest(query, flag(params, "include_peer_events"), view == "consolidated")
