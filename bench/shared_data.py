"""Where the project's shared reference data lives (../shared/data beside the checkout, or the
workplace's /work/shared/data when the checkout is elsewhere, or RTK_SHARED_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    candidates = [os.environ.get("RTK_SHARED_DATA", ""), ROOT.parent / "shared" / "data",
                  "/work/shared/data"]  # fmt: skip
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return ROOT.parent / "shared" / "data"
