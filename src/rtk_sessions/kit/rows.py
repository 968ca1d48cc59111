"""Read models from result rows, so repos do not spell out every column twice."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def from_row(cls: type[T], row: Any, **overrides: Any) -> T:
    """A dataclass from a result row: its fields by name, some values replaced."""
    values = {f.name: row._mapping[f.name] for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{**values, **overrides})
