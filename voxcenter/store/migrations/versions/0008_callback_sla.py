"""Callback SLA: the queue's target in force when a callback was booked, and when its customer was first dialled.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from voxcenter.store.types import Seconds, Timestamp

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(sa.Column("sla_seconds", Seconds(), server_default="300", nullable=False))
        batch.add_column(sa.Column("first_dialled_at", Timestamp(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("first_dialled_at")
        batch.drop_column("sla_seconds")
