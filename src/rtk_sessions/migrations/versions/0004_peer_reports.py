"""Precomputed peer reports.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peer_reports",
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("built_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["app_pk"], ["apps.pk"], name=op.f("fk_peer_reports_app_pk_apps")),
        sa.PrimaryKeyConstraint("app_pk", "peer_id", name=op.f("pk_peer_reports")),
    )


def downgrade() -> None:
    op.drop_table("peer_reports")
