"""The send-a-message use case: persist, context, stream, persist."""

from __future__ import annotations

from decimal import Decimal

import openai
import pytest

from smallchat import errors
from smallchat.chat import parse_session_id, send_message, start_reply
from smallchat.config import Settings
from smallchat.llm import make_client
from smallchat.repository import ChatStore
from smallchat.usage import TokenUsage
from tests.fake_provider import FakeProvider, Reply


@pytest.fixture
def session_id(store: ChatStore, settings: Settings) -> str:
    return store.create_session(model=settings.model_name).id


def test_reply_is_saved_with_usage_and_exact_cost(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Reply(chunks=["Hi"], prompt_tokens=2006, cached_tokens=1920, completion_tokens=300))
    reply = send_message(store, client, settings, session_id=session_id, text="hello")
    # Default GPT-5 mini tariff: 86 * 0.25 + 1920 * 0.025 + 300 * 2.00 = 21.5 + 48 + 600 = 669.5 per 1M
    assert reply.cost == Decimal("0.0006695")
    assert reply.usage == TokenUsage(prompt=2006, cached=1920, completion=300)
    assert not reply.usage_estimated and reply.complete
    assert store.get_session(session_id).cost == Decimal("0.0006695")


def test_the_model_remembers_earlier_messages_of_its_session(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    send_message(store, client, settings, session_id=session_id, text="My name is Ada.")
    send_message(store, client, settings, session_id=session_id, text="What is my name?")
    sent = provider.chat_requests()[-1].body["messages"]
    assert sent == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Echo: My name is Ada."},
        {"role": "user", "content": "What is my name?"},
    ]


def test_system_prompt_leads_the_context(
    store: ChatStore, provider: FakeProvider, settings: Settings, session_id: str
) -> None:
    with_prompt = Settings(**{**settings.__dict__, "system_prompt": "Be brief."})

    send_message(store, make_client(with_prompt), with_prompt, session_id=session_id, text="hi")
    assert provider.chat_requests()[-1].body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_stopped_reply_is_kept_and_flagged_incomplete(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Reply(chunks=["one", " two", " three"]))
    pending = start_reply(store, client, settings, session_id=session_id, text="count")
    first = next(iter(pending))
    pending.close()
    assert first == "one"
    saved = store.list_messages(session_id)[-1]
    assert saved.role == "assistant"
    assert saved.content == "one"
    assert not saved.complete
    assert saved.usage_estimated


def test_retry_needs_an_unanswered_message(
    store: ChatStore, client: openai.OpenAI, settings: Settings, session_id: str
) -> None:
    send_message(store, client, settings, session_id=session_id, text="hello")
    with pytest.raises(errors.InvalidInput, match="no unanswered message"):
        send_message(store, client, settings, session_id=session_id, text=None)


def test_unknown_session_is_refused_before_anything_is_saved(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider
) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(errors.SessionNotFound):
        send_message(store, client, settings, session_id=missing, text="hello")
    assert provider.chat_requests() == []


@pytest.mark.parametrize("raw", ["", "abc", "../etc/passwd", "1234"])
def test_malformed_session_ids_are_refused(raw: str) -> None:
    with pytest.raises(errors.InvalidInput):
        parse_session_id(raw)
