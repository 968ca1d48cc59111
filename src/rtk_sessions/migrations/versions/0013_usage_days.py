"""Per-day usage sums (sessions.usage), backfilled from the derived sessions and peers.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

DAY_MS = 86_400_000
_BATCH = 50_000


def upgrade() -> None:
    usage = op.create_table(
        "usage_days",
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("closed_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["app_pk"], ["apps.pk"], name=op.f("fk_usage_days_app_pk_apps")),
        sa.PrimaryKeyConstraint("app_pk", "day", name=op.f("pk_usage_days")),
    )
    # The sums of what is already derived, read in a streamed pass (frozen here: this file
    # must keep meaning what it meant when it was written).
    # (Streaming is set per statement: on the connection it would stay on for alembic's own
    # version update, whose row count a server-side cursor does not report.)
    bind, streamed = op.get_bind(), {"stream_results": True, "yield_per": _BATCH}
    sums: dict[tuple[int, int], list[int]] = {}
    starts = sa.text("SELECT app_pk, started_at FROM sessions").execution_options(**streamed)
    for app_pk, started_at in bind.execute(starts):
        sums.setdefault((app_pk, started_at // DAY_MS), [0, 0])[0] += 1
    closed = sa.text(
        "SELECT app_pk, joined_at, left_at FROM peers WHERE left_at IS NOT NULL"
    ).execution_options(**streamed)
    for app_pk, start, end in bind.execute(closed):
        while start < end:
            day = start // DAY_MS
            cut = min(end, (day + 1) * DAY_MS)
            sums.setdefault((app_pk, day), [0, 0])[1] += cut - start
            start = cut
    rows = [
        {"app_pk": app_pk, "day": day, "sessions": n, "closed_ms": ms}
        for (app_pk, day), (n, ms) in sorted(sums.items())
    ]
    for i in range(0, len(rows), _BATCH):
        op.bulk_insert(usage, rows[i : i + _BATCH])


def downgrade() -> None:
    op.drop_table("usage_days")
