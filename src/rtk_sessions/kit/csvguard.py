"""RTK_CSV_FORMULA_GUARD: CSV cells a spreadsheet would run as a formula, made plain text.

OWASP's advice against CSV (formula) injection, applied as written: a cell whose first
character is one of = + - @ tab or carriage return gets a leading single quote, which
spreadsheets take as "this is text" and do not show; and every cell is quoted, so that a
separator inside a cell (`,` or a locale's `;`) cannot start a new cell (docs/security.md).
"""

from __future__ import annotations

import hashlib

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(cell: str) -> str:
    """The cell with a leading ' when a spreadsheet would read it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def guard_variant(fingerprint: str, formula_guard: bool) -> str:
    """A built CSV's fingerprint, told apart by the setting: a file built under the other
    setting is never served from the cache (unchanged when the guard is off). A new digest,
    not a suffix: file keys hold only the fingerprint's first characters."""
    if not formula_guard:
        return fingerprint
    return hashlib.sha256(f"{fingerprint}\x1fformula-guard".encode()).hexdigest()
