"""Budgets: warn at 80 %, hold a message whose forecast goes over, send it once confirmed."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import openai
import pytest

from smallchat.budgets import BudgetStatus, budget_statuses, set_budget
from smallchat.chat import send_message
from smallchat.config import Settings
from smallchat.errors import BudgetExceeded, InvalidInput
from smallchat.repository import ChatStore
from tests.fake_provider import FakeProvider, Reply


@pytest.fixture
def session_id(store: ChatStore) -> str:
    return store.create_session(model="house-model").id


def test_warning_starts_at_eighty_percent() -> None:
    assert not BudgetStatus("daily", Decimal("1.00"), Decimal("0.79")).near_limit
    assert BudgetStatus("daily", Decimal("1.00"), Decimal("0.80")).near_limit


def test_a_message_over_the_session_budget_is_held_and_nothing_is_saved(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    # The forecast for "abcd": 7 prompt tokens and a 300-token reply = $0.00060175 (see test_forecast).
    set_budget(store, scope="session", session=store.get_session(session_id), limit=Decimal("0.0006"))
    with pytest.raises(BudgetExceeded) as held:
        send_message(store, client, settings, session_id=session_id, text="abcd")
    assert "$0.0006018" in str(held.value) and "$0.0006" in str(held.value)
    assert held.value.http_status == 402
    assert store.list_messages(session_id) == []
    assert provider.chat_requests() == []
    assert [event.kind for event in store.budgets.list_budget_events()] == ["set", "blocked"]


def test_confirming_once_sends_it_and_is_recorded(
    store: ChatStore, client: openai.OpenAI, settings: Settings, session_id: str
) -> None:
    set_budget(store, scope="session", session=store.get_session(session_id), limit=Decimal("0.0006"))
    reply = send_message(store, client, settings, session_id=session_id, text="abcd", confirm_over_budget=True)
    assert reply.content == "Echo: abcd"
    events = store.budgets.list_budget_events()
    assert [(event.kind, event.limit, event.forecast) for event in events] == [
        ("set", Decimal("0.0006"), None),
        ("confirmed", Decimal("0.0006"), Decimal("0.00060175")),
    ]


def test_daily_budget_counts_every_session_of_the_day(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider
) -> None:
    daily = replace(settings, daily_budget_usd=Decimal("0.0011"))
    first = store.create_session(model="house-model").id
    second = store.create_session(model="house-model").id
    # Each reply: 1000 prompt * 0.25 + 100 completion * 2.00 = 450 per 1M, $0.00045. Each first
    # message is forecast at 7 prompt tokens and a 300-token reply: $0.00060175, within budget.
    provider.script(Reply(prompt_tokens=1000, completion_tokens=100), Reply(prompt_tokens=1000, completion_tokens=100))
    send_message(store, client, daily, session_id=first, text="a")
    send_message(store, client, daily, session_id=second, text="b")
    [status] = budget_statuses(store, daily, store.get_session(second))
    assert (status.scope, status.spent, status.limit) == ("daily", Decimal("0.0009"), Decimal("0.0011"))
    assert status.near_limit  # 82 %
    # Next in the second chat: history "b" (1 + 3) and "Echo: b" (2 + 3), draft "c" (1 + 3), priming 3
    # = 16 prompt tokens; replies average 100 tokens: 16 * 0.25 + 100 * 2.00 = 204 per 1M.
    # $0.0009 + $0.000204 > $0.0011.
    with pytest.raises(BudgetExceeded, match="today's budget"):
        send_message(store, client, daily, session_id=second, text="c")


def test_a_budget_set_in_the_page_overrides_the_setting(store: ChatStore, settings: Settings) -> None:
    daily = replace(settings, daily_budget_usd=Decimal("1"))
    set_budget(store, scope="daily", session=None, limit=Decimal("2.50"))
    [status] = budget_statuses(store, daily, None)
    assert status.limit == Decimal("2.50")


@pytest.mark.parametrize("amount", ["0", "-1", "NaN", "Infinity", "0.0000000000001", "10000000"])
def test_budgets_must_be_amounts_the_database_can_hold(store: ChatStore, amount: str) -> None:
    # Stored in picodollars: under a millionth of a dollar rounds towards 0, over a million
    # dollars heads for the 64-bit column's limit ($9.2M).
    with pytest.raises(InvalidInput) as raised:
        set_budget(store, scope="daily", session=None, limit=Decimal(amount))
    assert str(raised.value) == "A budget must be an amount between $0.000001 and $1,000,000 (or empty, for no budget)."
    assert store.budgets.daily_budget_override() is None


def test_the_largest_budget_is_stored_exactly(store: ChatStore) -> None:
    set_budget(store, scope="daily", session=None, limit=Decimal("1000000"))
    assert store.budgets.daily_budget_override() == Decimal("1000000")


def test_a_budget_set_in_the_page_can_be_removed_again(store: ChatStore, settings: Settings, session_id: str) -> None:
    set_budget(store, scope="session", session=store.get_session(session_id), limit=Decimal("0.50"))
    set_budget(store, scope="daily", session=None, limit=Decimal("2"))
    assert {status.scope for status in budget_statuses(store, settings, store.get_session(session_id))} == {
        "daily",
        "session",
    }
    set_budget(store, scope="session", session=store.get_session(session_id), limit=None)
    set_budget(store, scope="daily", session=None, limit=None)
    assert budget_statuses(store, settings, store.get_session(session_id)) == []
    assert [event.kind for event in store.budgets.list_budget_events()] == ["set", "set", "removed", "removed"]


def test_each_chat_shows_its_own_budget_in_the_page(
    store: ChatStore, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    from tests.apptest_helpers import configure_app, run_app

    configure_app(monkeypatch, settings)
    with_budget = store.create_session(model="house-model")
    without = store.create_session(model="house-model")
    set_budget(store, scope="session", session=with_budget, limit=Decimal("0.00003706"))
    app = run_app(session_id=with_budget.id)
    assert app.sidebar.text_input(key=f"budget-session-{with_budget.id}").value == "0.00003706"
    app.query_params["session"] = without.id
    app.run()
    assert app.sidebar.text_input(key=f"budget-session-{without.id}").value == ""
