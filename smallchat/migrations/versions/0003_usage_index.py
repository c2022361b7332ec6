"""A covering index for the cost analytics page: one ordered pass over it answers its aggregates.

Its leading columns are the analytics GROUP BY (UTC day, role, model, estimated flag, rates,
then session), so the database aggregates while reading the index in order, with no sort,
and never reads the messages' text; the day comes first so a date filter reads only its
range. ``date(created_at)`` is an immutable expression on SQLite and PostgreSQL alike.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_usage",
        "messages",
        [
            sa.text("date(created_at)"),
            "role",
            "model",
            "usage_estimated",
            "input_per_mtok",
            "cached_input_per_mtok",
            "session_id",
            "prompt_tokens",
            "cached_tokens",
            "completion_tokens",
            "cost_picodollars",
            # Not read by the aggregates (they use the day), but it makes the index cover the
            # column the day is computed from, so no planner ever goes back to the table.
            "created_at",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_messages_usage", table_name="messages")
