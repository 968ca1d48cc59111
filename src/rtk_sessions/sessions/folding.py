"""Search folding: the one definition of "the same text, ignoring case" (docs/api-decisions.md).

Searchable fields are stored folded beside the original when rows are written, and the search
term is folded the same way, so matching is a plain substring test on both databases; neither
SQLite's `lower()` (ASCII only) nor the database's collation decides what matches.
"""

from __future__ import annotations

import unicodedata


def fold(text: str | None) -> str:
    """Unicode full case folding (`str.casefold`) of the canonically decomposed text, composed
    again (NFC): `Ñúñez`, `ÑÚÑEZ` and `n + ◌̃ + ú…` fold alike, and `ß` folds to `ss`.
    A missing value folds to the empty string, which no search term matches."""
    if not text:
        return ""
    if text.isascii():  # the common case, and identical to the general one for ASCII
        return text.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())
