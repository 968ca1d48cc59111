"""Search on stored Unicode case folds: folded columns on sessions and peers, backfilled here;
the session search indexes move onto them (FTS5 trigram, case-sensitive, on SQLite; pg_trgm on
PostgreSQL). Ingestion indexes: a meeting's events by type *and placement*, and open peers.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rtk_sessions.sessions.folding import fold

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

BATCH = 2000
FOLDS = {
    "sessions": {"title_folded": "title", "meeting_id_folded": "meeting_id"},
    "peers": {
        "id_folded": "id",
        "user_id_folded": "user_id",
        "custom_participant_id_folded": "custom_participant_id",
        "display_name_folded": "display_name",
    },
}


def _fts(columns: str, tokenize: str) -> list[str]:
    """The external-content FTS5 index over `sessions` and the triggers that keep it in step."""
    new = ", ".join(f"new.{c}" for c in columns.split(", "))
    old = ", ".join(f"old.{c}" for c in columns.split(", "))
    insert = f"INSERT INTO sessions_search(rowid, {columns}) VALUES (new.rowid, {new});"
    delete = (
        f"INSERT INTO sessions_search(sessions_search, rowid, {columns}) "
        f"VALUES ('delete', old.rowid, {old});"
    )
    return [
        f"CREATE VIRTUAL TABLE sessions_search USING fts5({columns}, content='sessions', "
        f"content_rowid='rowid', tokenize='{tokenize}')",
        f"CREATE TRIGGER sessions_search_ai AFTER INSERT ON sessions BEGIN {insert} END",
        f"CREATE TRIGGER sessions_search_ad AFTER DELETE ON sessions BEGIN {delete} END",
        f"CREATE TRIGGER sessions_search_au AFTER UPDATE OF {columns} ON sessions BEGIN "
        f"{delete} {insert} END",
        "INSERT INTO sessions_search(sessions_search) VALUES ('rebuild')",
    ]


# FTS5's own folding (simple, Unicode 6.1) must not fold the folds again: case_sensitive 1.
SQLITE_FOLDED = _fts("title_folded, meeting_id_folded, id", "trigram case_sensitive 1")
SQLITE_BEFORE = _fts("title, meeting_id, id", "trigram")
POSTGRES_FOLDED = {
    "ix_sessions_title_folded_trgm": "title_folded",
    "ix_sessions_meeting_id_folded_trgm": "meeting_id_folded",
    "ix_sessions_id_trgm": "id",
}
POSTGRES_BEFORE = {
    "ix_sessions_title_trgm": "lower(title)",
    "ix_sessions_meeting_id_trgm": "lower(meeting_id)",
    "ix_sessions_id_trgm": "lower(id)",
}


def _drop_sqlite_fts() -> None:
    for trigger in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS sessions_search_{trigger}")
    op.execute("DROP TABLE IF EXISTS sessions_search")


def _pg_trgm(bind: sa.Connection) -> bool:
    """Whether pg_trgm is (or can now be) installed; a refused role searches by scanning."""
    savepoint = bind.begin_nested()
    try:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # any refusal means: no index
        savepoint.rollback()
        log.warning("pg_trgm unavailable (%s); session search will scan", exc)
        return False
    savepoint.commit()
    return True


def _set_indexes(bind: sa.Connection, drop: dict[str, str], create: dict[str, str]) -> None:
    for name in drop:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    if _pg_trgm(bind):
        for name, expression in create.items():
            op.execute(f"CREATE INDEX {name} ON sessions USING gin ({expression} gin_trgm_ops)")


def _backfill(bind: sa.Connection, name: str, folds: dict[str, str]) -> None:
    """Fold every existing row in Python (the databases cannot casefold), in key order."""
    sources = sorted(set(folds.values()) | {"id"})
    t = sa.table(name, sa.column("app_pk"), *(sa.column(c) for c in {*sources, *folds}))
    update = (
        sa.update(t)
        .where(t.c.app_pk == sa.bindparam("k_app_pk"), t.c.id == sa.bindparam("k_id"))
        .values({target: sa.bindparam(f"v_{target}") for target in folds})
    )
    after: Sequence[object] | None = None
    while True:
        query = sa.select(t.c.app_pk, *(t.c[c] for c in sources))
        if after is not None:
            query = query.where(sa.tuple_(t.c.app_pk, t.c.id) > sa.tuple_(*after))
        rows = bind.execute(query.order_by(t.c.app_pk, t.c.id).limit(BATCH)).all()
        if not rows:
            return
        params = [
            {
                "k_app_pk": r.app_pk,
                "k_id": r.id,
                **{f"v_{target}": fold(r._mapping[src]) for target, src in folds.items()},
            }
            for r in rows
        ]
        bind.execute(update, params)
        after = (rows[-1].app_pk, rows[-1].id)


def _ingest_indexes_up() -> None:
    op.drop_index("ix_events_app_pk_meeting_id_type", table_name="events")
    op.create_index(
        "ix_events_app_pk_meeting_id_type_placement",
        "events",
        ["app_pk", "meeting_id", "type", "placement"],
    )
    op.create_index(
        "ix_peers_open_app_pk_meeting_id",
        "peers",
        ["app_pk", "meeting_id"],
        sqlite_where=sa.text("left_at IS NULL"),
        postgresql_where=sa.text("left_at IS NULL"),
    )


def _ingest_indexes_down() -> None:
    op.drop_index("ix_peers_open_app_pk_meeting_id", table_name="peers")
    op.drop_index("ix_events_app_pk_meeting_id_type_placement", table_name="events")
    op.create_index("ix_events_app_pk_meeting_id_type", "events", ["app_pk", "meeting_id", "type"])


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        _drop_sqlite_fts()  # its triggers would not survive the table rebuild below
    for name, folds in FOLDS.items():
        for column in folds:
            op.add_column(name, sa.Column(column, sa.Text(), nullable=True))
        _backfill(bind, name, folds)
        with op.batch_alter_table(name) as batch_op:
            for column in folds:
                batch_op.alter_column(column, existing_type=sa.Text(), nullable=False)
    if sqlite:
        for statement in SQLITE_FOLDED:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        _set_indexes(bind, POSTGRES_BEFORE, POSTGRES_FOLDED)
    _ingest_indexes_up()  # after the table rebuilds above, which would have to copy them


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    _ingest_indexes_down()
    if sqlite:
        _drop_sqlite_fts()
    elif bind.dialect.name == "postgresql":
        for name in POSTGRES_FOLDED:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    for name, folds in FOLDS.items():
        with op.batch_alter_table(name) as batch_op:
            for column in folds:
                batch_op.drop_column(column)
    if sqlite:
        for statement in SQLITE_BEFORE:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        _set_indexes(bind, {}, POSTGRES_BEFORE)
