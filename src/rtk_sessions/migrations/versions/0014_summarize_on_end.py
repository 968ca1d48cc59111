"""The per-app setting that starts a summary when a session with transcript segments ends.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("apps", sa.Column("summarize_on_end_since", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("apps", "summarize_on_end_since")  # SQLite 3.35 and newer drop columns in place
