"""Times as ``timestamptz`` (PostgreSQL) or ISO 8601 text (SQLite), durations rounded to the millisecond.

Existing rows are kept: their POSIX seconds become the same instants, rounded to the millisecond.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from voxcenter.store.types import Timestamp

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMES = {
    "agent_events": [("at", False)],
    "agent_states": [("at", False)],
    "call_events": [("at", False)],
    "call_legs": [("started_at", False), ("answered_at", True), ("ended_at", True)],
    "callbacks": [("requested_at", False), ("completed_at", True)],
    "calls": [("arrived_at", False), ("answered_at", True), ("queue_entered_at", True),
              ("agent_answered_at", True), ("ended_at", True)],
    "customers": [("updated_at", False)],
    "interactions": [("at", False)],
    "queue_members": [("at", False)],
    "recordings": [("started_at", False)],
    "registrations": [("expires_at", False), ("registered_at", False)],
    "surveys": [("at", False)],
    "voicemails": [("at", False)],
}
"""table → [(time column, nullable)] as of revision 0004 (all doubles of POSIX seconds)."""

DURATIONS = {
    "call_events": ["value"],
    "call_legs": ["talk_seconds"],
    "calls": ["wait_seconds", "talk_seconds", "hold_seconds", "wrapup_seconds"],
    "recordings": ["duration_seconds"],
    "voicemails": ["duration_seconds"],
}
"""table → duration columns (seconds), rounded to the millisecond."""


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, columns in DURATIONS.items():
        op.execute(f"UPDATE {table} SET " + ", ".join(f"{c} = round(CAST({c} AS numeric), 3)" for c in columns))
    for table, times in TIMES.items():
        if postgresql:
            op.execute(f"ALTER TABLE {table} " + ", ".join(
                f"ALTER COLUMN {c} TYPE timestamptz USING to_timestamp(round(CAST({c} AS numeric), 3))"
                for c, _ in times))
            continue
        # SQLite: the same instants as text first (a REAL column keeps text that is not a number as text),
        # then the declared type, by the batch copy.
        op.execute(f"UPDATE {table} SET " + ", ".join(
            f"{c} = strftime('%Y-%m-%dT%H:%M:%fZ', {c}, 'unixepoch')" for c, _ in times))
        with op.batch_alter_table(table) as batch:
            for column, nullable in times:
                batch.alter_column(column, type_=Timestamp(), existing_type=sa.Double(),
                                   existing_nullable=nullable)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, times in TIMES.items():
        if postgresql:
            op.execute(f"ALTER TABLE {table} " + ", ".join(
                f"ALTER COLUMN {c} TYPE double precision USING extract(epoch FROM {c})" for c, _ in times))
            continue
        # The seconds first (kept as text by the text column), then the type: the batch copy casts them.
        op.execute(f"UPDATE {table} SET " + ", ".join(
            f"{c} = round((julianday({c}) - 2440587.5) * 86400.0, 3)" for c, _ in times))
        with op.batch_alter_table(table) as batch:
            for column, nullable in times:
                batch.alter_column(column, type_=sa.Double(), existing_type=Timestamp(),
                                   existing_nullable=nullable)
