"""Cluster: each node's heartbeat, and which node closed the calls of one that stopped beating.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from voxcenter.store.types import Timestamp

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("started_at", Timestamp(), nullable=False),
        sa.Column("heartbeat_at", Timestamp(), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", Timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_cluster_nodes")),
    )


def downgrade() -> None:
    op.drop_table("cluster_nodes")
