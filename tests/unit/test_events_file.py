"""`rtk-sessions ingest FILE`: the file's JSON read with the same reasons as the API's."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtk_sessions.kit.errors import BadRequest
from rtk_sessions.operations import read_events_file


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"id": "a"},]', "events.json: not valid JSON: Expecting value (line 1, column 14)"),
        (b'[{"occurred_at": 1e400}]', "events.json: not valid JSON: the number 1e400 is out of range"),
        (b'{"id": "a"}\n{"id": "\xff"}\n', "events.json:2: not valid UTF-8 (byte 8)"),
        (b'{"id": "a"}\n\n{"id": "\\ud800"}\n', "events.json:3: not valid JSON text: it holds"),
    ],
    ids=["array", "number", "utf8-line", "surrogate-line"],
)  # fmt: skip
def test_a_file_that_is_not_json_says_where(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(content)
    with pytest.raises(BadRequest) as exc:
        read_events_file(path)
    assert exc.value.message.startswith(f"{tmp_path}/{message}"), exc.value.message


def test_arrays_and_lines_are_read(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b' [{"id": "a"}, {"id": "b"}]')
    (tmp_path / "b.jsonl").write_bytes(b'{"id": "a"}\n\n{"id": "b"}')
    assert read_events_file(tmp_path / "a.json") == [{"id": "a"}, {"id": "b"}]
    assert read_events_file(tmp_path / "b.jsonl") == [{"id": "a"}, {"id": "b"}]
