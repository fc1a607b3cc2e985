"""Outbound campaigns: their contacts, the do-not-call list, whether each campaign dials; the CDR names both.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from voxcenter.store.types import Timestamp

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_contacts",
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=128), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("imported_at", Timestamp(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Timestamp(), nullable=False),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("last_call_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_campaign_contacts")),
    )
    op.create_index(op.f("ix_campaign_contacts_campaign"), "campaign_contacts", ["campaign"])
    op.create_index(op.f("ix_campaign_contacts_number"), "campaign_contacts", ["number"])
    op.create_table(
        "do_not_call",
        sa.Column("number", sa.String(length=128), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("at", Timestamp(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_do_not_call")),
    )
    op.create_table(
        "campaign_states",
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("at", Timestamp(), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("campaign", name=op.f("pk_campaign_states")),
    )
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("campaign", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("contact_id", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_calls_campaign"), "calls", ["campaign"])


def downgrade() -> None:
    op.drop_index(op.f("ix_calls_campaign"), table_name="calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("contact_id")
        batch.drop_column("campaign")
    op.drop_table("campaign_states")
    op.drop_table("do_not_call")
    op.drop_index(op.f("ix_campaign_contacts_number"), table_name="campaign_contacts")
    op.drop_index(op.f("ix_campaign_contacts_campaign"), table_name="campaign_contacts")
    op.drop_table("campaign_contacts")
