"""Forecasts and context trimming, against token counts worked out by hand.

"house-model" has no known tokenizer, so its texts count ceil(characters / 4) tokens,
plus 3 framing tokens per message and 3 priming tokens per request.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import openai
import pytest

from smallchat.chat import send_message
from smallchat.config import Settings
from smallchat.forecast import DEFAULT_REPLY_TOKENS, forecast_next, plan_context
from smallchat.llm import make_client
from smallchat.repository import ChatStore
from tests.fake_provider import FakeProvider, Reply

MODEL = "house-model"


@pytest.fixture
def session_id(store: ChatStore) -> str:
    return store.create_session(model=MODEL).id


def test_plan_keeps_the_newest_messages_that_fit() -> None:
    settings = Settings(max_context_tokens=30)
    # system 5 + priming 3 = 8; newest first: 10 (18), 10 (28), then 10 would make 38 > 30.
    plan = plan_context([10, 10, 10, 10], system_tokens=5, settings=settings)
    assert (plan.sent_messages, plan.omitted_messages, plan.prompt_tokens) == (2, 2, 28)


def test_plan_always_sends_the_newest_message() -> None:
    plan = plan_context([100], system_tokens=0, settings=Settings(max_context_tokens=10))
    assert (plan.sent_messages, plan.prompt_tokens) == (1, 103)


def test_plan_honours_the_message_limit() -> None:
    plan = plan_context([1, 2, 3, 4], system_tokens=0, settings=Settings(max_context_messages=3))
    assert (plan.sent_messages, plan.omitted_messages, plan.prompt_tokens) == (3, 1, 3 + 2 + 3 + 4)


def test_forecast_prices_context_and_a_typical_reply(store: ChatStore, session_id: str) -> None:
    settings = Settings(system_prompt="Be brief.")  # 9 chars: ceil(9/4) = 3 + 3 framing = 6
    session = store.get_session(session_id)
    forecast = forecast_next(store, settings, session, draft_tokens=11)
    # prompt = 6 system + 11 draft + 3 priming = 20; no reply yet: the default 300.
    assert forecast.plan.prompt_tokens == 20
    assert forecast.expected_reply_tokens == DEFAULT_REPLY_TOKENS == 300
    # GPT-5 mini: 20 * 0.25 + 300 * 2.00 = 605 per 1M
    assert forecast.expected_cost == Decimal("0.000605")
    assert not forecast.exact_tokens


def test_forecast_follows_the_sessions_reply_length_and_the_output_cap(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Reply(chunks=["a"], completion_tokens=100), Reply(chunks=["b"], completion_tokens=200))
    send_message(store, client, settings, session_id=session_id, text="12345678")
    send_message(store, client, settings, session_id=session_id, text="12345678")
    capped = replace(settings, max_output_tokens=1000)
    forecast = forecast_next(store, capped, store.get_session(session_id))
    # History: 2 user messages of ceil(8/4) + 3 = 5 tokens and 2 replies of ceil(1/4) + 3 = 4 tokens.
    assert store.history_token_counts(session_id) == [5, 4, 5, 4]
    assert forecast.plan.prompt_tokens == 5 + 4 + 5 + 4 + 3
    assert forecast.expected_reply_tokens == 150  # the mean of 100 and 200
    # expected: 21 * 0.25 + 150 * 2.00 = 305.25; at most: 21 * 0.25 + 1000 * 2.00 = 2005.25 (per 1M)
    assert forecast.expected_cost == Decimal("0.00030525")
    assert forecast.max_cost == Decimal("0.00200525")


def test_the_reply_keeps_its_forecast_beside_its_cost(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Reply(chunks=["ok"], prompt_tokens=9, completion_tokens=300))
    reply = send_message(store, client, settings, session_id=session_id, text="abcd")
    # forecast prompt: ceil(4/4) + 3 + 3 priming = 7; 7 * 0.25 + 300 * 2.00 = 601.75 per 1M
    assert (reply.forecast_prompt_tokens, reply.forecast_completion_tokens) == (7, 300)
    assert reply.forecast_cost == Decimal("0.00060175")
    # actual: 9 * 0.25 + 300 * 2.00 = 602.25 per 1M
    assert reply.cost == Decimal("0.00060225")


def test_trimming_sends_the_system_prompt_and_the_newest_turns_only(
    store: ChatStore, provider: FakeProvider, settings: Settings, session_id: str
) -> None:
    limited = replace(settings, system_prompt="Be brief.", max_context_messages=3)
    client = make_client(limited)
    for text in ("one", "two", "three"):
        send_message(store, client, limited, session_id=session_id, text=text)
    sent = provider.chat_requests()[-1].body["messages"]
    assert sent == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "Echo: two"},
        {"role": "user", "content": "three"},
    ]


def test_output_cap_is_sent_as_max_tokens(
    store: ChatStore, provider: FakeProvider, settings: Settings, session_id: str
) -> None:
    capped = replace(settings, max_output_tokens=64)
    send_message(store, make_client(capped), capped, session_id=session_id, text="hi")
    assert provider.chat_requests()[-1].body["max_tokens"] == 64
