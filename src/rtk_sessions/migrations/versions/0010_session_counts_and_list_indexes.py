"""Sessions list at size: per-app session counts kept by triggers, and indexes for every list
shape (docs/api-decisions.md, "Sessions list at size").

`session_counts` holds how many sessions an app has per (status, max_concurrent); triggers on
`sessions` keep it in the same transaction as every write, whichever code path writes, and the
upgrade backfills it from the existing rows. The list indexes carry `id` so that the
(key, id) order of a page is the index order.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KEY = "app_pk, status, max_concurrent"

SQLITE_TRIGGERS = {
    "session_counts_ai": (
        "AFTER INSERT ON sessions BEGIN "
        f"INSERT INTO session_counts ({KEY}, sessions) "
        "VALUES (new.app_pk, new.status, new.max_concurrent, 1) "
        f"ON CONFLICT ({KEY}) DO UPDATE SET sessions = sessions + 1; END"
    ),
    "session_counts_ad": (
        "AFTER DELETE ON sessions BEGIN "
        "UPDATE session_counts SET sessions = sessions - 1 WHERE app_pk = old.app_pk "
        "AND status = old.status AND max_concurrent = old.max_concurrent; END"
    ),
    "session_counts_au": (
        "AFTER UPDATE OF app_pk, status, max_concurrent ON sessions "
        "WHEN old.app_pk IS NOT new.app_pk OR old.status IS NOT new.status "
        "OR old.max_concurrent IS NOT new.max_concurrent BEGIN "
        "UPDATE session_counts SET sessions = sessions - 1 WHERE app_pk = old.app_pk "
        "AND status = old.status AND max_concurrent = old.max_concurrent; "
        f"INSERT INTO session_counts ({KEY}, sessions) "
        "VALUES (new.app_pk, new.status, new.max_concurrent, 1) "
        f"ON CONFLICT ({KEY}) DO UPDATE SET sessions = sessions + 1; END"
    ),
}


def _pg_delta(source: str) -> str:
    """Add each (app, status, max_concurrent) group's signed count of rows to its counter; an
    update that moves no session between groups (most do not) writes nothing."""
    return (
        f"INSERT INTO session_counts ({KEY}, sessions) "
        f"SELECT {KEY}, sum(delta) FROM ({source}) AS d GROUP BY {KEY} HAVING sum(delta) <> 0 "
        f"ON CONFLICT ({KEY}) DO UPDATE SET sessions = session_counts.sessions + EXCLUDED.sessions"
    )


# Statement-level triggers over transition tables: one grouped upsert per statement, not per row.
POSTGRES_FUNCTIONS = {
    "session_counts_inserted": _pg_delta(f"SELECT {KEY}, 1 AS delta FROM new_rows"),
    "session_counts_deleted": _pg_delta(f"SELECT {KEY}, -1 AS delta FROM old_rows"),
    "session_counts_updated": _pg_delta(
        f"SELECT {KEY}, 1 AS delta FROM new_rows UNION ALL SELECT {KEY}, -1 FROM old_rows"
    ),
}
POSTGRES_TRIGGERS = {
    "session_counts_ai": ("INSERT", "NEW TABLE AS new_rows", "session_counts_inserted"),
    "session_counts_ad": ("DELETE", "OLD TABLE AS old_rows", "session_counts_deleted"),
    "session_counts_au": (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "session_counts_updated",
    ),
}

# (name, columns, (the index it replaces, its columns) or None)
INDEXES: list[tuple[str, list[str], tuple[str, list[str]] | None]] = [
    (
        "ix_sessions_app_pk_started_at_id",
        ["app_pk", "started_at", "id"],
        ("ix_sessions_app_pk_started_at", ["app_pk", "started_at"]),
    ),
    (
        "ix_sessions_app_pk_status_started_at_id",
        ["app_pk", "status", "started_at", "id"],
        ("ix_sessions_app_pk_status", ["app_pk", "status"]),
    ),
    ("ix_sessions_app_pk_status_closed_ms_id", ["app_pk", "status", "closed_ms", "id"], None),
    (
        "ix_sessions_app_pk_status_max_concurrent_closed_ms_id",
        ["app_pk", "status", "max_concurrent", "closed_ms", "id"],
        None,
    ),
    (
        "ix_sessions_app_pk_max_concurrent_started_at_id",
        ["app_pk", "max_concurrent", "started_at", "id"],
        None,
    ),
]


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "session_counts",
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_pk"], ["apps.pk"], name=op.f("fk_session_counts_app_pk_apps")
        ),
        sa.PrimaryKeyConstraint(
            "app_pk", "status", "max_concurrent", name=op.f("pk_session_counts")
        ),
    )
    # Backfill and triggers in one transaction: no write lands between them.
    op.execute(
        f"INSERT INTO session_counts ({KEY}, sessions) "
        f"SELECT {KEY}, count(*) FROM sessions GROUP BY {KEY}"
    )
    if bind.dialect.name == "postgresql":
        for name, body in POSTGRES_FUNCTIONS.items():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN {body}; RETURN NULL; END $$"
            )
        for name, (action, tables, function) in POSTGRES_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} AFTER {action} ON sessions REFERENCING {tables} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    for name, columns, replaces in INDEXES:
        op.create_index(name, "sessions", columns)
        if replaces:
            op.drop_index(replaces[0], table_name="sessions")


def downgrade() -> None:
    bind = op.get_bind()
    for name, _, replaces in reversed(INDEXES):
        if replaces:
            op.create_index(replaces[0], "sessions", replaces[1])
        op.drop_index(name, table_name="sessions")
    for name in POSTGRES_TRIGGERS:
        if bind.dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON sessions")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if bind.dialect.name == "postgresql":
        for name in POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("session_counts")
