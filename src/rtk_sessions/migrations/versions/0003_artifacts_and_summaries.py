"""Built files (chat, transcripts, summaries) and summary requests.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("built_at", sa.BigInteger(), nullable=False),
        sa.Column("superseded_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["app_pk"], ["apps.pk"], name=op.f("fk_artifacts_app_pk_apps")),
        sa.PrimaryKeyConstraint("app_pk", "key", name=op.f("pk_artifacts")),
    )
    op.create_index(
        op.f("ix_artifacts_app_pk_session_id_kind_variant"),
        "artifacts",
        ["app_pk", "session_id", "kind", "variant"],
    )
    op.create_index(op.f("ix_artifacts_superseded_at"), "artifacts", ["superseded_at"])
    op.create_table(
        "summaries",
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("enqueued_at", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("ready_key", sa.String(length=512), nullable=True),
        sa.Column("ready_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("ready_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["app_pk"], ["apps.pk"], name=op.f("fk_summaries_app_pk_apps")),
        sa.PrimaryKeyConstraint("app_pk", "session_id", name=op.f("pk_summaries")),
    )
    op.create_index(op.f("ix_summaries_status"), "summaries", ["status"])


def downgrade() -> None:
    op.drop_table("summaries")
    op.drop_table("artifacts")
