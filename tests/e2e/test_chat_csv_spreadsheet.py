"""The chat CSV survives a spreadsheet: LibreOffice Calc imports it (columns as text, as
docs/api-decisions.md advises), saves it as .xlsx, and exports CSV again; every cell comes
back as written. The one change is a spreadsheet's own: CRLF inside a cell becomes LF."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from rtk_sessions.chat.csv_export import ChatRow, write_chat_csv
from support import ONCE, run_process

pytestmark = [pytest.mark.e2e, ONCE]

SOFFICE = shutil.which("soffice")
TEXT_COLUMNS = "/".join(f"{i}/2" for i in range(1, 11))  # column i: format 2 = text

ROWS = [
    ChatRow("m1", "p1", "s", "m", "Bob, Jr.", True, False, "TEXT_MESSAGE",
            'hello, "world" 👋\r\nsecond line; 中文 עברית', 1_780_000_000_123),
    ChatRow("m2", "p2", "s", "m", None, False, True, "TEXT_MESSAGE", "=SUM(A1:A2)",
            1_780_000_000_456),
    ChatRow("m3", "p2", "s", "m", "Zoë", False, False, "FILE_MESSAGE",
            "+1 @alice -- 0042 ;\t'quoted'", 1_780_000_000_789),
]  # fmt: skip


def soffice(profile: Path, *args: str) -> None:
    done = run_process(
        [SOFFICE or "soffice", f"-env:UserInstallation=file://{profile}", "--headless", *args],
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(
    SOFFICE is None and not os.environ.get("CI"),
    reason="LibreOffice (soffice) is not installed; .ci/run installs it",
)
def test_chat_csv_round_trips_through_a_spreadsheet(tmp_path: Path) -> None:
    source = tmp_path / "chat.csv"
    with source.open("w", encoding="utf-8", newline="") as out:
        write_chat_csv(ROWS, out)
    profile = tmp_path / "profile"
    soffice(profile, f"--infilter=CSV:44,34,76,1,{TEXT_COLUMNS}", "--convert-to", "xlsx",
            "--outdir", str(tmp_path / "xlsx"), str(source))  # fmt: skip
    soffice(profile, "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1",
            "--outdir", str(tmp_path / "back"), str(tmp_path / "xlsx" / "chat.xlsx"))  # fmt: skip
    with source.open(encoding="utf-8", newline="") as f:
        written = list(csv.reader(f))
    with (tmp_path / "back" / "chat.csv").open(encoding="utf-8", newline="") as f:
        back = list(csv.reader(f))
    assert len(written) == len(ROWS) + 1
    assert back == [[cell.replace("\r\n", "\n") for cell in row] for row in written]
