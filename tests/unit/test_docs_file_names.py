"""Every download file name the docs mention is one the service serves, and docs/files.md
lists every one it serves, for every format."""

from __future__ import annotations

import re
from pathlib import Path

from rtk_sessions.summaries.render import FORMATS, file_name
from rtk_sessions.transcripts.formats import EXTENSIONS as TRANSCRIPT_EXTENSIONS

ROOT = Path(__file__).resolve().parents[2]
# "summary.txt", "chat-<session>.csv", "transcript-2ae1c8b0-9f1e.vtt", ...
MENTION = re.compile(
    r"\b(chat|transcript|summary)(-(?:<[^<>\n]+>|[0-9a-f][0-9a-f-]*))?"
    r"\.(csv|tsv|json|srt|vtt|md|markdown|txt|text|html|pdf|xml|zip|gz)\b"
)
SESSION = "2ae1c8b0-9f1e-4c1b-a0f4-3b1c2d3e4f50"


def served() -> set[tuple[str, str]]:
    """(kind, extension) of every file name the service builds."""
    names = [f"chat-{SESSION}.csv"]  # chat/service.py; its name is checked end to end
    names += [f"transcript-{SESSION}.{ext}" for ext in TRANSCRIPT_EXTENSIONS.values()]
    names += [file_name(SESSION, fmt) for fmt in FORMATS]
    out = set()
    for name in names:
        match = MENTION.fullmatch(name)
        assert match is not None and match.group(2), name
        out.add((match.group(1), match.group(3)))
    return out


def mentions(path: Path) -> list[tuple[str, str, str]]:
    return [
        (m.group(0), m.group(1), m.group(3))
        for m in MENTION.finditer(path.read_text(encoding="utf-8"))
    ]


def test_every_file_name_in_the_docs_is_served() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    wrong = [
        f"{page.relative_to(ROOT)}: {text}"
        for page in pages
        for text, kind, ext in mentions(page)
        if (kind, ext) not in served() or "-" not in text
    ]
    assert not wrong, f"not a file name the service serves: {wrong}"


def test_the_files_page_lists_every_name_served() -> None:
    listed = {(kind, ext) for _, kind, ext in mentions(ROOT / "docs" / "files.md")}
    assert served() <= listed
    assert len(served()) == 1 + len(TRANSCRIPT_EXTENSIONS) + len(FORMATS)
