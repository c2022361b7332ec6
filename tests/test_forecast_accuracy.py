"""The analytics page's forecast accuracy: forecasts beside actual costs, summed exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smallchat.analytics import UsageFilter, forecast_accuracy
from smallchat.config import Settings
from smallchat.repository import ChatStore
from tests.apptest_helpers import ANALYTICS_PAGE, configure_app, run_app
from tests.factories import add_reply, new_chat


@pytest.fixture
def forecast_chats(store: ChatStore) -> str:
    chat = new_chat(store, "Forecasts")
    add_reply(store, chat, cost="0.0005", forecast="0.0006")  # forecast 0.0001 too high
    add_reply(store, chat, cost="0.0002", forecast="0.0001", model="cheap-model")  # 0.0001 too low
    add_reply(store, chat, cost="0.0009")  # no forecast (saved before forecasts existed): left out
    add_reply(store, chat, cost=None, forecast="0.0003")  # no known price: nothing to compare with
    return chat


def test_forecasts_are_compared_with_what_the_replies_cost(store: ChatStore, forecast_chats: str) -> None:
    accuracy = forecast_accuracy(store.engine)
    assert accuracy.replies == 2
    assert (accuracy.forecast, accuracy.actual) == (Decimal("0.0007"), Decimal("0.0007"))
    # Over and under by 0.0001 each: the totals agree but every forecast missed.
    assert accuracy.absolute_error == Decimal("0.0002")
    assert accuracy.mean_absolute_error == Decimal("0.0001")
    assert accuracy.relative_error == Decimal("0.0002") / Decimal("0.0007")


def test_the_filters_apply_to_the_forecast_accuracy_too(store: ChatStore, forecast_chats: str) -> None:
    accuracy = forecast_accuracy(store.engine, UsageFilter(models=("cheap-model",)))
    assert (accuracy.replies, accuracy.forecast, accuracy.actual) == (1, Decimal("0.0001"), Decimal("0.0002"))
    assert accuracy.relative_error == Decimal("0.5")


def test_no_forecast_yet_has_no_error_to_report(store: ChatStore) -> None:
    accuracy = forecast_accuracy(store.engine)
    assert (accuracy.replies, accuracy.mean_absolute_error, accuracy.relative_error) == (0, None, None)


def test_the_page_reports_the_forecast_error(
    store: ChatStore, forecast_chats: str, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    configure_app(monkeypatch, settings)
    app = run_app(page=ANALYTICS_PAGE)
    assert not app.exception
    # 0.0002 / 0.0007 = 28.6 %, shown rounded.
    assert any(
        caption.value.startswith(r"Forecast accuracy over 2 replies: forecast \$0.0007, actual \$0.0007; off by 29%")
        for caption in app.main.caption
    )
