"""Spending guardrails: token counts and forecasts on messages, session budgets, budget records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("content_tokens", sa.Integer()))
        batch.add_column(sa.Column("forecast_prompt_tokens", sa.Integer()))
        batch.add_column(sa.Column("forecast_completion_tokens", sa.Integer()))
        batch.add_column(sa.Column("forecast_cost_picodollars", sa.BigInteger()))
    with op.batch_alter_table("chat_sessions") as batch:
        batch.add_column(sa.Column("budget_picodollars", sa.BigInteger()))
    op.create_table(
        "budget_limits",
        sa.Column("scope", sa.String(20), primary_key=True),
        sa.Column("limit_picodollars", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "budget_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("chat_sessions.id", ondelete="SET NULL")),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("spent_picodollars", sa.BigInteger(), nullable=False),
        sa.Column("forecast_picodollars", sa.BigInteger()),
        sa.Column("limit_picodollars", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("budget_events")
    op.drop_table("budget_limits")
    with op.batch_alter_table("chat_sessions") as batch:
        batch.drop_column("budget_picodollars")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("forecast_cost_picodollars")
        batch.drop_column("forecast_completion_tokens")
        batch.drop_column("forecast_prompt_tokens")
        batch.drop_column("content_tokens")
