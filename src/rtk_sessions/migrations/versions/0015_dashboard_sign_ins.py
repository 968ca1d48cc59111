"""Dashboard sign-ins: a cookie's hashed key, its token, its CSRF secret and its expiry.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_sign_ins",
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_tokens.id"], name="fk_ui_sign_ins_token_id_api_tokens"
        ),
        sa.PrimaryKeyConstraint("key_sha256", name="pk_ui_sign_ins"),
    )
    op.create_index("ix_ui_sign_ins_expires_at", "ui_sign_ins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_ui_sign_ins_expires_at", table_name="ui_sign_ins")
    op.drop_table("ui_sign_ins")
