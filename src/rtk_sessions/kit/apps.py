"""Which app a piece of work belongs to.

Every resource takes an app, so its reference lives here, below them all: a resource that
needs one imports kit rather than another resource.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppRef:
    """An app as the store knows it: its row key and its public id."""

    pk: int
    app_id: str
