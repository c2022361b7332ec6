"""How good the forecasts were: each reply's forecast beside what it actually cost."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, func, select

from smallchat.analytics.report import UsageFilter, filtered
from smallchat.models import Message
from smallchat.money import from_picodollars


@dataclass(frozen=True)
class ForecastAccuracy:
    """Replies with both a forecast and a known cost, and how far the forecasts were off."""

    replies: int
    forecast: Decimal
    actual: Decimal
    absolute_error: Decimal

    @property
    def mean_absolute_error(self) -> Decimal | None:
        """The average miss per reply, in dollars."""
        return None if self.replies == 0 else self.absolute_error / self.replies

    @property
    def relative_error(self) -> Decimal | None:
        """The misses as a share of what was spent (0.25: off by a quarter of the actual cost)."""
        return None if self.actual == 0 else self.absolute_error / self.actual


def forecast_accuracy(engine: Engine, usage_filter: UsageFilter | None = None) -> ForecastAccuracy:
    """Forecast against actual cost over the replies that ``usage_filter`` counts, summed exactly."""
    forecast, actual = Message.forecast_cost_picodollars, Message.cost_picodollars
    query = select(
        func.count(),
        func.coalesce(func.sum(forecast), 0),
        func.coalesce(func.sum(actual), 0),
        func.coalesce(func.sum(func.abs(forecast - actual)), 0),
    ).where(Message.role == "assistant", forecast.is_not(None), actual.is_not(None))
    with engine.connect() as connection:
        replies, forecast_total, actual_total, error_total = connection.execute(
            filtered(query, usage_filter or UsageFilter())
        ).one()
    return ForecastAccuracy(
        replies=int(replies),
        forecast=from_picodollars(int(forecast_total)),
        actual=from_picodollars(int(actual_total)),
        absolute_error=from_picodollars(int(error_total)),
    )
