"""RealtimeKit webhooks: deliveries taken in (for deduplication) and file downloads to do.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("delivery", sa.String(length=160), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_pk"], ["apps.pk"], name=op.f("fk_webhook_deliveries_app_pk_apps")
        ),
        sa.PrimaryKeyConstraint(
            "app_pk", "provider", "delivery", name=op.f("pk_webhook_deliveries")
        ),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_received_at"), "webhook_deliveries", ["received_at"]
    )
    op.create_table(
        "realtimekit_downloads",
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("meeting_id", sa.String(length=128), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("session_started_at", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("enqueued_at", sa.BigInteger(), nullable=True),
        sa.Column("run_started_at", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_pk"], ["apps.pk"], name=op.f("fk_realtimekit_downloads_app_pk_apps")
        ),
        sa.PrimaryKeyConstraint(
            "app_pk", "session_id", "kind", name=op.f("pk_realtimekit_downloads")
        ),
    )
    op.create_index(op.f("ix_realtimekit_downloads_status"), "realtimekit_downloads", ["status"])


def downgrade() -> None:
    op.drop_table("realtimekit_downloads")
    op.drop_table("webhook_deliveries")
