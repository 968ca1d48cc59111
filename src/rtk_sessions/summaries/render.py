"""The summary's fixed shape: four sections, two text formats, one word limit.

Both summarizers fill a `SummaryParts` and render it here, so the headings, the empty-section
placeholder and the word count are the same whichever wrote the content.

Word count rule: the limit applies to the body — the overview and every bullet's words,
the "None recorded." placeholders included — and not to the headings or the "- " markers.
The headings are fixed furniture: counting them would make a 20-word limit nearly all
headings and tell a reader nothing about the meeting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from rtk_sessions.summaries.model import SummaryError

TITLE = "Meeting Summary"
KEY_POINTS = "Key Discussion Points"
ACTION_ITEMS = "Action Items"
DECISIONS = "Decisions Made"
SECTIONS = (KEY_POINTS, ACTION_ITEMS, DECISIONS)
NONE_RECORDED = "None recorded."
FORMATS = ("markdown", "plain_text")
EXTENSIONS = {"markdown": "md", "plain_text": "txt"}
# With every list empty, three placeholders (6 words) and one overview word must fit.
MIN_WORD_LIMIT = 10

# Headings a model may write for each part (None = the overview), compared after stripping
# markup (#, bold, trailing colon) and case.
_HEADING_NAMES = {
    "meeting summary": None,
    "summary": None,
    "overview": None,
    "key discussion points": 0,
    "key points": 0,
    "discussion points": 0,
    "action items": 1,
    "decisions made": 2,
    "decisions": 2,
}
_BULLET = re.compile(r"^(?:[-*•+]|\d+[.)])\s+")
_EMPHASIS = re.compile(r"\*\*|__|`")


@dataclass(frozen=True)
class SummaryParts:
    """The content of a summary before it is given a text format."""

    overview: str
    key_points: tuple[str, ...]
    action_items: tuple[str, ...]
    decisions: tuple[str, ...]

    def lists(self) -> tuple[tuple[str, ...], ...]:
        return (self.key_points, self.action_items, self.decisions)


def check_request(word_limit: int, text_format: str) -> None:
    """Reject settings no summary can satisfy, before any work is done."""
    if text_format not in FORMATS:
        raise SummaryError(f"unknown summary format {text_format!r}; use markdown or plain_text")
    if word_limit < MIN_WORD_LIMIT:
        raise SummaryError(f"word limit {word_limit} is below the minimum of {MIN_WORD_LIMIT}")


def file_name(session_id: str, text_format: str) -> str:
    """The download's name (docs/files.md lists every file name served)."""
    return f"summary-{session_id}.{EXTENSIONS[text_format]}"


def render(parts: SummaryParts, text_format: str) -> str:
    """The summary text in markdown (## / ### headings) or plain text (no markup)."""
    markdown = text_format == "markdown"
    blocks = [f"## {TITLE}" if markdown else TITLE]
    if parts.overview:
        blocks.append(_one_line(parts.overview))
    for title, items in zip(SECTIONS, parts.lists(), strict=True):
        bullets = "\n".join(f"- {_one_line(item)}" for item in items or (NONE_RECORDED,))
        blocks.append(f"### {title}\n\n{bullets}" if markdown else f"{title}:\n{bullets}")
    return "\n\n".join(blocks) + "\n"


def parse_sections(text: str) -> SummaryParts | None:
    """Read a model's markdown answer back into parts; None if it has no section headings.

    Text before the first section heading is the overview; a missing section or one that says
    "None" becomes empty (rendered as "None recorded."); emphasis markup is dropped.
    """
    overview: list[str] = []
    lists: tuple[list[str], ...] = ([], [], [])
    current: int | None = None
    found = False
    for raw in text.splitlines():
        line = _EMPHASIS.sub("", raw).strip()
        heading = line.lstrip("#").strip(" :").lower()
        if line and not _BULLET.match(line) and heading in _HEADING_NAMES:
            current = _HEADING_NAMES[heading]
            found = found or current is not None
        elif line and current is None:
            overview.append(_BULLET.sub("", line))
        elif line and current is not None:
            _add_item(lists[current], line)
    if not found:
        return None
    key, action, decision = (tuple(items) for items in lists)
    return SummaryParts(" ".join(overview), key, action, decision)


def _add_item(items: list[str], line: str) -> None:
    item = _BULLET.sub("", line)
    if item.lower().rstrip(".") in {"none", "none recorded", "n/a", "none noted"}:
        return
    if items and not _BULLET.match(line):
        items[-1] = f"{items[-1]} {item}"  # a wrapped bullet continues
    else:
        items.append(item)


def plain_body(text: str) -> str:
    """The body of a rendered summary: headings dropped, bullet markers stripped."""
    headings = {TITLE, *(f"{title}:" for title in SECTIONS)}
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line in headings:
            continue
        lines.append(line[2:] if line.startswith("- ") else line)
    return "\n".join(lines)


def body_word_count(text: str) -> int:
    """Words that count against the limit in a rendered summary (see the module docstring)."""
    return len(plain_body(text).split())


def word_count(parts: SummaryParts) -> int:
    placeholders = sum(2 for items in parts.lists() if not items)
    listed = sum(_words(item) for items in parts.lists() for item in items)
    return _words(parts.overview) + listed + placeholders


def fit(parts: SummaryParts, word_limit: int) -> SummaryParts:
    """Shrink every part in proportion to its size until the body fits the limit."""
    total = word_count(parts)
    if total <= word_limit:
        return parts
    sizes = [_words(parts.overview), *(sum(map(_words, items)) for items in parts.lists())]
    fixed = sum(2 for items in parts.lists() if not items)
    budgets = _share(sizes, word_limit - fixed)
    key, action, decision = (
        _truncate_items(items, b) for items, b in zip(parts.lists(), budgets[1:], strict=True)
    )
    return replace(
        parts,
        overview=truncate_words(parts.overview, budgets[0]),
        key_points=key,
        action_items=action,
        decisions=decision,
    )


def _share(sizes: list[int], available: int) -> list[int]:
    """Split `available` words across parts by size; a non-empty part keeps at least one."""
    present = sum(1 for s in sizes if s)
    spare, extra = max(0, available - present), max(1, sum(sizes) - present)
    budgets = [1 + (s - 1) * spare // extra if s else 0 for s in sizes]
    leftover = available - sum(budgets)
    for i, size in enumerate(sizes):
        grant = min(leftover, size - budgets[i]) if size else 0
        budgets[i] += grant
        leftover -= grant
    return budgets


def _truncate_items(items: tuple[str, ...], budget: int) -> tuple[str, ...]:
    kept: list[str] = []
    for item in items:
        if budget <= 0:
            break
        kept.append(truncate_words(item, budget))
        budget -= _words(kept[-1])
    return tuple(kept)


def truncate_words(text: str, budget: int) -> str:
    """The first `budget` words, marked with an ellipsis when something was cut."""
    words = text.split()
    if len(words) <= budget:
        return text
    return " ".join(words[:budget]).rstrip(",;:") + "…" if budget > 0 else ""


def _words(text: str) -> int:
    return len(text.split())


def _one_line(text: str) -> str:
    return " ".join(text.split())
