"""Callbacks booked for later or from outside: their due time, who booked them, the customer's data.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(sa.Column("due_at", sa.Double(), nullable=True))
        batch.add_column(sa.Column("source", sa.String(length=16), server_default="queue", nullable=False))
        batch.add_column(sa.Column("customer_data", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("customer_data")
        batch.drop_column("source")
        batch.drop_column("due_at")
