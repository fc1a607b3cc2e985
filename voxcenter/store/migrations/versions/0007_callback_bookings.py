"""Callbacks booked for later or from outside: their due time, who booked them, the customer's data.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from voxcenter.store.types import Timestamp

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(sa.Column("due_at", Timestamp(), nullable=True))
        batch.add_column(sa.Column("source", sa.String(length=16), server_default="queue", nullable=False))
        batch.add_column(sa.Column("customer_data", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("customer_data")
        batch.drop_column("source")
        batch.drop_column("due_at")
