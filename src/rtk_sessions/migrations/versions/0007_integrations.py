"""Integrations: per-app webhook settings of other platforms, import checkpoints, imported
peer reports.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _app_pk(table: str) -> list[Any]:
    return [
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["app_pk"], ["apps.pk"], name=op.f(f"fk_{table}_app_pk_apps")),
    ]


def upgrade() -> None:
    op.create_table(
        "app_integrations",
        *_app_pk("app_integrations"),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_pk", "provider", name=op.f("pk_app_integrations")),
    )
    op.create_table(
        "import_checkpoints",
        *_app_pk("import_checkpoints"),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_pk", "source", name=op.f("pk_import_checkpoints")),
    )
    op.create_table(
        "imported_peer_reports",
        *_app_pk("imported_peer_reports"),
        sa.Column("peer_id", sa.String(length=128), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_pk", "peer_id", name=op.f("pk_imported_peer_reports")),
    )


def downgrade() -> None:
    op.drop_table("imported_peer_reports")
    op.drop_table("import_checkpoints")
    op.drop_table("app_integrations")
