"""Cluster: the lease that makes one node the ACD router for every node, and where each node takes SIP and HTTP.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from voxcenter.store.types import Timestamp

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cluster_nodes", sa.Column("sip_address", sa.String(length=128), nullable=True))
    op.add_column("cluster_nodes", sa.Column("api_address", sa.String(length=128), nullable=True))
    op.create_table(
        "cluster_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", Timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cluster_leases")),
    )


def downgrade() -> None:
    op.drop_table("cluster_leases")
    with op.batch_alter_table("cluster_nodes") as batch:
        batch.drop_column("sip_address")
        batch.drop_column("api_address")
