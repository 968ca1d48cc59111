"""Live rtcstats: per-app stream-token secrets and the streams received.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rtcstats_secrets",
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_pk"], ["apps.pk"], name=op.f("fk_rtcstats_secrets_app_pk_apps")
        ),
        sa.PrimaryKeyConstraint("app_pk", name=op.f("pk_rtcstats_secrets")),
    )
    op.create_table(
        "rtcstats_streams",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("client_session", sa.String(length=128), nullable=True),
        sa.Column("meeting_id", sa.String(length=128), nullable=True),
        sa.Column("peer_id", sa.String(length=128), nullable=True),
        sa.Column("user_label", sa.String(length=256), nullable=True),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("last_flush_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("close_code", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_pk"], ["apps.pk"], name=op.f("fk_rtcstats_streams_app_pk_apps")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rtcstats_streams")),
        sa.UniqueConstraint(
            "app_pk", "client_session", name=op.f("uq_rtcstats_streams_app_pk_client_session")
        ),
    )
    op.create_index(
        op.f("ix_rtcstats_streams_app_pk_peer_id"), "rtcstats_streams", ["app_pk", "peer_id"]
    )
    op.create_index(
        op.f("ix_rtcstats_streams_app_pk_meeting_id"),
        "rtcstats_streams",
        ["app_pk", "meeting_id"],
    )
    op.create_index(op.f("ix_rtcstats_streams_ended_at"), "rtcstats_streams", ["ended_at"])


def downgrade() -> None:
    op.drop_table("rtcstats_streams")
    op.drop_table("rtcstats_secrets")
