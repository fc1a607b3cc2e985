"""Run-time queue members keep their penalty (set when added, or changed later), as Asterisk's QueuePenalty.

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


def upgrade() -> None:
    with op.batch_alter_table("queue_members") as batch:
        batch.add_column(sa.Column("penalty", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("queue_members") as batch:
        batch.drop_column("penalty")
