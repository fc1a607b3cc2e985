"""What the agent page writes about a call: its customer and number, outcome code and follow-up callback.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from voxcenter.store.types import Timestamp

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("customer_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("number", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("follow_up_at", Timestamp(), nullable=True))
        batch.add_column(sa.Column("callback_id", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_interactions_customer_id"), "interactions", ["customer_id"])
    op.create_index(op.f("ix_interactions_number"), "interactions", ["number"])


def downgrade() -> None:
    op.drop_index(op.f("ix_interactions_number"), table_name="interactions")
    op.drop_index(op.f("ix_interactions_customer_id"), table_name="interactions")
    with op.batch_alter_table("interactions") as batch:
        for column in ("callback_id", "follow_up_at", "outcome", "number", "customer_id"):
            batch.drop_column(column)
