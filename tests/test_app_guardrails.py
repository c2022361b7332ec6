"""The chat page's guardrails under AppTest: forecast, trimming notice, budgets, model per chat."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from smallchat.budgets import set_budget
from smallchat.config import Settings
from smallchat.repository import ChatStore
from tests.apptest_helpers import configure_app, run_app
from tests.fake_provider import FAKE_MODEL, FakeProvider


@pytest.fixture(autouse=True)
def _app_environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    configure_app(monkeypatch, settings)


def captions(app) -> list[str]:
    return [caption.value for caption in app.main.caption]


def test_a_new_chat_shows_the_forecast_of_its_first_message() -> None:
    app = run_app()
    assert not app.exception
    # No history: 3 priming tokens and the default 300-token reply: 3 * 0.25 + 300 * 2.00 = 600.75 per 1M.
    assert any(caption.startswith(r"Next message ≈ \$0.0006008: 3 context tokens") for caption in captions(app))


def test_the_forecast_follows_messages_written_elsewhere(store: ChatStore, provider: FakeProvider) -> None:
    # The page keeps the history's token counts between reruns; a message written by another
    # process (the REST API, another tab) must still show in the next rerun's forecast.
    app = run_app().chat_input[0].set_value("hello").run()
    session_id = app.query_params["session"]
    before = next(caption for caption in captions(app) if caption.startswith("Next message"))
    store.add_user_message(session_id, content="from the API", content_tokens=40)
    after = next(caption for caption in captions(app.run()) if caption.startswith("Next message"))
    # The 40 tokens of the new message join the context.
    tokens = [int(text.split(": ", 1)[1].split(" context tokens")[0].replace(",", "")) for text in (before, after)]
    assert tokens[1] == tokens[0] + 40


def test_left_out_turns_are_announced(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    configure_app(monkeypatch, settings)
    monkeypatch.setenv("AI_MAX_CONTEXT_MESSAGES", "2")
    app = run_app()
    for text in ("one", "two"):
        app = app.chat_input[0].set_value(text).run()
    # 4 messages stored; the next request carries the newest 2 (before the new message).
    assert any("2 earlier messages are not sent" in caption for caption in captions(app))


def test_budget_warns_then_holds_a_message_until_confirmed(
    store: ChatStore, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    app = run_app().chat_input[0].set_value("abcd").run()
    session = store.get_session(app.query_params["session"])
    # The echo reports 2 prompt tokens (4 characters // 4 + 1) and 2 completion tokens ("Echo:", " abcd"):
    # 2 * 0.25 + 2 * 2.00 = 4.5 per 1M tokens.
    assert session.cost == Decimal("0.0000045")
    set_budget(store, scope="session", session=session, limit=Decimal("0.0000055"))
    app = app.run()
    assert any("82%" in warning.value for warning in app.warning)  # 4.5 of 5.5 millionths
    # Any next message is forecast at more than the $0.000001 left: replies average 2 tokens
    # ($0.000004) and the context alone is over 4 tokens ($0.000001).

    app = app.chat_input[0].set_value("held back").run()
    assert not app.exception
    assert "Not sent" in app.error[0].value
    assert [m.content for m in store.list_messages(session.id)] == ["abcd", "Echo: abcd"]

    app = app.button(key="send-over-budget").click().run()
    assert not app.exception
    assert [m.content for m in store.list_messages(session.id)][-2:] == ["held back", "Echo: held back"]
    assert [event.kind for event in store.budgets.list_budget_events()] == ["set", "blocked", "confirmed"]


def test_each_chat_can_use_its_own_model(store: ChatStore, provider: FakeProvider) -> None:
    app = run_app().chat_input[0].set_value("hi").run()
    session_id = app.query_params["session"]
    picker = app.sidebar.selectbox(key=f"model-{session_id}")
    assert FAKE_MODEL in picker.options  # fetched from the provider's /models
    picker.set_value(FAKE_MODEL).run()
    assert store.get_session(session_id).model == FAKE_MODEL
    app.chat_input[0].set_value("again").run()
    assert provider.chat_requests()[-1].body["model"] == FAKE_MODEL


def test_the_model_list_falls_back_to_the_configured_model(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, store: ChatStore
) -> None:
    session = store.create_session(model=settings.model_name)
    unreachable = replace(settings, base_url="http://127.0.0.1:9/v1")
    configure_app(monkeypatch, unreachable)
    app = run_app(session_id=session.id)
    assert not app.exception
    assert app.sidebar.selectbox(key=f"model-{session.id}").options == [settings.model_name]
