"""`rtk-sessions ingest FILE`: the file's JSON read with the same reasons as the API's, at
file positions (docs/ingestion.md, Bulk loads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtk_sessions.cli.event_files import check_file, read_chunks
from rtk_sessions.kit.errors import BadRequest
from rtk_sessions.kit.timeutil import now_ms


def _nothing(_: int) -> None:
    pass


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"id": "a"},]', "events.json: not valid JSON: Expecting value (line 1, column 14)"),
        (b'[{"occurred_at": 1e400}]', "events.json: not valid JSON: the number 1e400 is out of range"),
    ],
    ids=["array", "number"],
)  # fmt: skip
def test_an_array_that_is_not_json_says_why(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(content)
    with pytest.raises(BadRequest) as exc:
        list(read_chunks(path, 100))
    assert exc.value.message.startswith(f"{tmp_path}/{message}"), exc.value.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"id": "a"}\n{"id": "\xff"}\n', "events.json:2: not valid UTF-8 (byte 8)"),
        (b'{"id": "a"}\n\n{"id": "\\ud800"}\n', "events.json:3: not valid JSON text: it holds"),
    ],
    ids=["utf8-line", "surrogate-line"],
)  # fmt: skip
def test_a_line_that_is_not_json_says_where(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(content)
    check = check_file(path, 100, now_ms(), _nothing)
    assert any(p.startswith(f"{tmp_path}/{message}") for p in check.problems), check.problems


def test_arrays_and_lines_are_read(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b' [{"id": "a"}, {"id": "b"}]')
    (tmp_path / "b.jsonl").write_bytes(b'{"id": "a"}\n\n{"id": "b"}')
    for name in ("a.json", "b.jsonl"):
        [chunk] = read_chunks(tmp_path / name, 100)
        assert chunk.events == [{"id": "a"}, {"id": "b"}]
