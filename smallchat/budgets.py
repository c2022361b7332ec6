"""Budgets: a daily one across all sessions and one per session, checked against the forecast.

At 80 % of a budget the pages warn; a message whose forecast would take a budget over its
limit is not sent unless the person raises the budget or confirms once. Days are UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from smallchat.config import BUDGET_RANGE, MAX_BUDGET_USD, MIN_BUDGET_USD, Settings
from smallchat.errors import BudgetExceeded, InvalidInput
from smallchat.money import format_usd
from smallchat.repository import ChatStore, SessionSummary

WARNING_SHARE = Decimal("0.8")


@dataclass(frozen=True)
class BudgetStatus:
    scope: str  # "daily" or "session"
    limit: Decimal
    spent: Decimal

    @property
    def share_used(self) -> Decimal:
        return self.spent / self.limit

    @property
    def near_limit(self) -> bool:
        return self.share_used >= WARNING_SHARE

    def would_exceed(self, forecast: Decimal | None) -> bool:
        return self.spent + (forecast or Decimal(0)) > self.limit

    def describe(self) -> str:
        name = "today's budget" if self.scope == "daily" else "this chat's budget"
        return f"{format_usd(self.spent)} of {name} of {format_usd(self.limit)} spent ({self.share_used:.0%})"


def start_of_today() -> datetime:
    return datetime.now(tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def budget_statuses(store: ChatStore, settings: Settings, session: SessionSummary | None) -> list[BudgetStatus]:
    """Every budget in force, with what has been spent against it."""
    budgets = store.budgets
    statuses = []
    daily_limit = budgets.daily_budget_override() or settings.daily_budget_usd
    if daily_limit is not None:
        statuses.append(BudgetStatus("daily", daily_limit, budgets.spent_since(start_of_today())))
    session_limit = (session.budget if session else None) or settings.session_budget_usd
    if session_limit is not None:
        statuses.append(BudgetStatus("session", session_limit, session.cost if session else Decimal(0)))
    return statuses


def enforce_budgets(
    store: ChatStore,
    statuses: list[BudgetStatus],
    session: SessionSummary,
    *,
    forecast: Decimal | None,
    confirmed: bool,
) -> None:
    """Raise BudgetExceeded when the forecast takes a budget over, unless the person confirmed."""
    for status in statuses:
        if not status.would_exceed(forecast):
            continue
        store.budgets.record_budget_event(
            session_id=session.id,
            scope=status.scope,
            kind="confirmed" if confirmed else "blocked",
            spent=status.spent,
            forecast=forecast,
            limit=status.limit,
        )
        if confirmed:
            continue
        name = "today's budget" if status.scope == "daily" else "this chat's budget"
        raise BudgetExceeded(
            f"Not sent: this message is forecast at {format_usd(forecast)}, which would take {name} over "
            f"its limit ({format_usd(status.spent)} of {format_usd(status.limit)} spent). Raise the budget, "
            "or confirm to send it anyway.",
            scope=status.scope,
            spent=status.spent,
            limit=status.limit,
            forecast=forecast,
        )


def set_budget(store: ChatStore, *, scope: str, session: SessionSummary | None, limit: Decimal | None) -> None:
    """Set the daily budget or the session's budget (None removes it), and record the change."""
    if limit is not None and (not limit.is_finite() or not MIN_BUDGET_USD <= limit <= MAX_BUDGET_USD):
        raise InvalidInput(f"A budget must be an amount {BUDGET_RANGE} (or empty, for no budget).")
    if scope == "daily":
        store.budgets.set_daily_budget(limit)
        spent = store.budgets.spent_since(start_of_today())
    elif session is not None:
        store.set_session_budget(session.id, budget=limit)
        spent = session.cost
    else:
        raise InvalidInput("There is no chat to set a budget for yet.")
    store.budgets.record_budget_event(
        session_id=session.id if session else None,
        scope=scope,
        kind="set" if limit is not None else "removed",
        spent=spent,
        forecast=None,
        limit=limit if limit is not None else Decimal(0),
    )
