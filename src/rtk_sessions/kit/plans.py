"""Query plans of the statements a block of code sends, to show that ingestion only looks rows
up by index (docs/ingestion.md). Used by the test suite and `bench/`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from rtk_sessions.kit.db import Database

_TABLES = "events|meetings|sessions|peers"
_OPEN_PEERS = "ix_peers_open_"  # a partial index: only the peers still connected
_SQLITE_WHOLE = [
    re.compile(rf"^SCAN ({_TABLES})\b(?! USING (COVERING )?INDEX {_OPEN_PEERS})"),
    re.compile(rf"^SEARCH ({_TABLES}) USING .*\(app_pk=\?\)$"),  # every row of the app
]
_POSTGRES_SEQ = re.compile(rf"Seq Scan on ({_TABLES})\b")
_POSTGRES_APP = re.compile(r"Index Cond: \(app_pk = \d+\)$")
_EXPLAINABLE = re.compile(r"\s*(SELECT|UPDATE|DELETE|INSERT)\b(?!\s+pg_advisory)", re.I)


@contextmanager
def recorded(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """(statement, parameters) of every statement sent while the block runs; for one sent
    with many parameter sets, the first set."""
    seen: list[tuple[str, Any]] = []

    def listener(_c: Any, _cur: Any, statement: str, params: Any, _x: Any, many: bool) -> None:
        if _EXPLAINABLE.match(statement):
            seen.append((statement, params[0] if many and isinstance(params, list) else params))

    engines = {db.reader.sync_engine, db.writer.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", listener)


async def plan(db: Database, statement: str, params: Any, seq_scans: bool = True) -> list[str]:
    """The plan's lines; `seq_scans=False` prices sequential scans out on PostgreSQL, so that
    a small database shows whether an index path exists at all."""
    async with db.read() as conn:
        if db.is_sqlite:
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            return [str(tuple(r)[-1]) for r in rows]  # the detail column
        if not seq_scans:
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = await conn.exec_driver_sql(f"EXPLAIN {statement}", params)
        return [str(r._mapping["QUERY PLAN"]).strip() for r in rows]


def whole_reads(lines: list[str], dialect: str, by_app: bool = True) -> list[str]:
    """Plan lines that read a whole table, or (`by_app`) every row of the app."""
    if dialect == "sqlite":
        return [line for line in lines if any(p.search(line) for p in _SQLITE_WHOLE)]
    patterns = [_POSTGRES_SEQ, *([_POSTGRES_APP] if by_app else [])]
    return [line for line in lines if any(p.search(line) for p in patterns)]
