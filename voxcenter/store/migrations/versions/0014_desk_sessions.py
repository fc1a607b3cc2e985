"""Desk sign-ins are kept (by the SHA-256 of their token) so that a restart does not sign agents out.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from voxcenter.store.types import Timestamp

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("issued_at", Timestamp(), nullable=False),
        sa.Column("expires_at", Timestamp(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_desk_sessions")),
    )
    op.create_index(op.f("ix_desk_sessions_expires_at"), "desk_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_desk_sessions_expires_at"), table_name="desk_sessions")
    op.drop_table("desk_sessions")
