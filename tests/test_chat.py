"""The send-a-message use case: persist, context, stream, persist."""

from __future__ import annotations

from decimal import Decimal

import openai
import pytest

from smallchat import errors
from smallchat.chat import parse_session_id, send_message, start_reply, validate_message
from smallchat.config import Settings
from smallchat.llm import make_client
from smallchat.repository import ChatStore
from smallchat.usage import TokenUsage
from tests.fake_provider import Failure, FakeProvider, Reply, error_body


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


def test_stream_without_usage_is_estimated_never_a_reported_zero(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    store.set_session_model(session_id, model="house-model")  # no known tokenizer: the estimate applies
    provider.script(Reply(chunks=["12345678"], usage_placement="none"))
    reply = send_message(store, client, settings, session_id=session_id, text="abcd")
    # Prompt: ceil(4 chars / 4) + 3 message framing + 3 reply priming = 7; completion: ceil(8 / 4) = 2.
    assert reply.usage == TokenUsage(prompt=7, completion=2)
    assert reply.usage_estimated
    # 7 * 0.25 + 2 * 2.00 = 5.75 per 1M
    assert reply.cost == Decimal("0.00000575")
    assert store.get_session(session_id).estimated_replies == 1


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


def test_failed_message_is_kept_and_retried_without_duplication(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Failure(503, error_body("overloaded")))
    with pytest.raises(errors.ProviderUnavailable):
        send_message(store, client, settings, session_id=session_id, text="hello")
    assert [(m.role, m.content) for m in store.list_messages(session_id)] == [("user", "hello")]

    reply = send_message(store, client, settings, session_id=session_id, text=None)
    assert reply.content == "Echo: hello"
    assert [(m.role, m.content) for m in store.list_messages(session_id)] == [
        ("user", "hello"),
        ("assistant", "Echo: hello"),
    ]
    assert provider.chat_requests()[-1].body["messages"] == [{"role": "user", "content": "hello"}]


def test_retry_needs_an_unanswered_message(
    store: ChatStore, client: openai.OpenAI, settings: Settings, session_id: str
) -> None:
    send_message(store, client, settings, session_id=session_id, text="hello")
    with pytest.raises(errors.InvalidInput, match="no unanswered message"):
        send_message(store, client, settings, session_id=session_id, text=None)


def test_sdk_retries_leave_one_row_per_message(
    store: ChatStore, provider: FakeProvider, settings: Settings, session_id: str
) -> None:

    retrying = Settings(**{**settings.__dict__, "max_retries": 2})
    provider.script(Failure(429, error_body("slow"), headers={"retry-after": "0"}), Reply())
    send_message(store, make_client(retrying), retrying, session_id=session_id, text="hello")
    assert [m.role for m in store.list_messages(session_id)] == ["user", "assistant"]
    assert len(provider.chat_requests()) == 2


def test_mid_stream_error_keeps_the_partial_reply_flagged_incomplete(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Reply(chunks=["half"], error_after_chunks={"message": "boom"}))
    with pytest.raises(errors.ProviderError):
        send_message(store, client, settings, session_id=session_id, text="hello")
    reply = store.list_messages(session_id)[-1]
    assert (reply.role, reply.content, reply.complete) == ("assistant", "half", False)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_messages_are_refused(text: str) -> None:
    with pytest.raises(errors.InvalidInput, match="empty"):
        validate_message(text, Settings())


def test_oversize_messages_are_refused_with_the_limit() -> None:
    with pytest.raises(errors.InvalidInput, match="100,000"):
        validate_message("x" * 100_001, Settings())


def test_unpaired_surrogates_are_refused() -> None:
    with pytest.raises(errors.InvalidInput, match="not valid text"):
        validate_message("bad \ud800 text", Settings())


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
