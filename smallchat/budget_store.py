"""Storage of budgets: limits set in the UI, what was spent, and the record of budget events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, func, select

from smallchat.db import Transactions
from smallchat.models import BudgetEvent, BudgetLimit, Message, utc_now
from smallchat.money import from_picodollars, optional_from_picodollars, to_picodollars


@dataclass(frozen=True)
class BudgetEventRecord:
    session_id: str | None
    scope: str
    kind: str
    spent: Decimal
    forecast: Decimal | None
    limit: Decimal
    created_at: datetime


_SELECT_DAILY_LIMIT = select(BudgetLimit.limit_picodollars).where(BudgetLimit.scope == "daily")


class BudgetStore:
    """Reads and writes budgets and budget events."""

    def __init__(self, transactions: Transactions) -> None:
        self._reading = transactions.reading
        self._reading_statements = transactions.reading_statements
        self._writing = transactions.writing

    def daily_budget_override(self) -> Decimal | None:
        # Read before every message sent: a constant Core statement, no ORM session.
        with self._reading_statements() as connection:
            limit = connection.execute(_SELECT_DAILY_LIMIT).scalar()
        return optional_from_picodollars(limit)

    def set_daily_budget(self, budget: Decimal | None) -> None:
        """Set the daily budget set in the page; None removes it (the setting applies again)."""
        with self._writing() as db:
            if budget is None:
                db.execute(delete(BudgetLimit).where(BudgetLimit.scope == "daily"))
            else:
                db.merge(BudgetLimit(scope="daily", limit_picodollars=to_picodollars(budget), updated_at=utc_now()))

    def spent_since(self, start: datetime) -> Decimal:
        """What replies cost from ``start`` on, across all sessions."""
        query = select(func.coalesce(func.sum(Message.cost_picodollars), 0)).where(
            Message.role == "assistant", Message.created_at >= start
        )
        with self._reading() as db:
            return from_picodollars(int(db.scalar(query) or 0))

    def record_budget_event(
        self,
        *,
        session_id: str | None,
        scope: str,
        kind: str,
        spent: Decimal,
        forecast: Decimal | None,
        limit: Decimal,
    ) -> None:
        with self._writing() as db:
            db.add(
                BudgetEvent(
                    session_id=session_id,
                    scope=scope,
                    kind=kind,
                    spent_picodollars=to_picodollars(spent),
                    forecast_picodollars=None if forecast is None else to_picodollars(forecast),
                    limit_picodollars=to_picodollars(limit),
                    created_at=utc_now(),
                )
            )

    def list_budget_events(self) -> list[BudgetEventRecord]:
        with self._reading() as db:
            rows = db.scalars(select(BudgetEvent).order_by(BudgetEvent.id))
            return [
                BudgetEventRecord(
                    session_id=row.session_id,
                    scope=row.scope,
                    kind=row.kind,
                    spent=from_picodollars(row.spent_picodollars),
                    forecast=optional_from_picodollars(row.forecast_picodollars),
                    limit=from_picodollars(row.limit_picodollars),
                    created_at=row.created_at,
                )
                for row in rows
            ]
