"""Substring search indexes for sessions: FTS5 trigram on SQLite, pg_trgm on PostgreSQL.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import logging

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

SQLITE_UP = [
    "CREATE VIRTUAL TABLE sessions_search USING fts5("
    "title, meeting_id, id, content='sessions', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER sessions_search_ai AFTER INSERT ON sessions BEGIN "
    "INSERT INTO sessions_search(rowid, title, meeting_id, id) "
    "VALUES (new.rowid, new.title, new.meeting_id, new.id); END",
    "CREATE TRIGGER sessions_search_ad AFTER DELETE ON sessions BEGIN "
    "INSERT INTO sessions_search(sessions_search, rowid, title, meeting_id, id) "
    "VALUES ('delete', old.rowid, old.title, old.meeting_id, old.id); END",
    "CREATE TRIGGER sessions_search_au AFTER UPDATE OF title, meeting_id, id ON sessions BEGIN "
    "INSERT INTO sessions_search(sessions_search, rowid, title, meeting_id, id) "
    "VALUES ('delete', old.rowid, old.title, old.meeting_id, old.id); "
    "INSERT INTO sessions_search(rowid, title, meeting_id, id) "
    "VALUES (new.rowid, new.title, new.meeting_id, new.id); END",
    "INSERT INTO sessions_search(sessions_search) VALUES ('rebuild')",
]
POSTGRES_INDEXES = {
    "ix_sessions_title_trgm": "lower(title)",
    "ix_sessions_meeting_id_trgm": "lower(meeting_id)",
    "ix_sessions_id_trgm": "lower(id)",
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+), but a locked-down role may still be
        # refused: search then works by scanning, which is correct, only slower.
        savepoint = bind.begin_nested()
        try:
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:  # any refusal means: no index
            savepoint.rollback()
            log.warning("pg_trgm unavailable (%s); session search will scan", exc)
            return
        savepoint.commit()
        for name, expression in POSTGRES_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON sessions USING gin ({expression} gin_trgm_ops)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS sessions_search_{trigger}")
        op.execute("DROP TABLE IF EXISTS sessions_search")
    elif bind.dialect.name == "postgresql":
        for name in POSTGRES_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
