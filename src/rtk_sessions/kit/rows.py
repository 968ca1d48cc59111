"""Read models from result rows, so repos do not spell out every column twice; lookups by key
in IN-list chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import Column, select
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")
S = TypeVar("S")


# Per (read model, the result's columns): the model's field names, and where each one is in
# the row. One entry per distinct statement shape, so the cache stays small.
_PLANS: dict[tuple[type[Any], tuple[str, ...]], tuple[tuple[str, ...], tuple[int, ...]]] = {}


def from_row(cls: type[T], row: Any, **overrides: Any) -> T:
    """A dataclass from a result row: its fields by name, some values replaced. By position
    once the columns are known: `row._mapping` is built anew on every access, and reads
    make one of these per row served."""
    key = (cls, row._fields)
    plan = _PLANS.get(key)
    if plan is None:
        names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
        where = {name: i for i, name in enumerate(row._fields)}
        plan = _PLANS[key] = (names, tuple(where[name] for name in names))
    names, positions = plan
    values = [row[i] for i in positions]
    if overrides:
        return cls(**{**dict(zip(names, values, strict=True)), **overrides})
    return cls(*values)


# Values per `IN (...)` list. Short, so that PostgreSQL prices the list's index lookups below a
# read of the whole table once the table holds a long history (docs/ingestion.md).
IN_CHUNK = 100


def chunks(items: Sequence[S], size: int = IN_CHUNK) -> Iterator[Sequence[S]]:
    """`items` in slices of at most `size`, for statements with an `IN (...)` list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def by_key(
    conn: AsyncConnection, key: Column[Any], value: Column[Any], app_pk: int, keys: Iterable[str]
) -> dict[str, Any]:
    """`value` of each of the app's rows whose `key` is one of `keys` (absent: no such row);
    one index lookup per key, a statement per chunk."""
    table = key.table
    found: dict[str, Any] = {}
    for chunk in chunks(sorted(set(keys))):
        rows = await conn.execute(
            select(key, value).where(table.c.app_pk == app_pk, key.in_(chunk))
        )
        found.update({k: v for k, v in rows})
    return found
