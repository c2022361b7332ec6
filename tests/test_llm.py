"""The provider client against the fake server, through the real openai SDK."""

from __future__ import annotations

import openai
import pytest

from smallchat import errors
from smallchat.config import Settings
from smallchat.llm import ChatMessage, make_client, open_reply_stream
from smallchat.usage import TokenUsage
from tests.fake_provider import Failure, FakeProvider, Reply, error_body

HELLO = [ChatMessage("user", "hello")]


def stream_all(client: openai.OpenAI, settings: Settings):
    stream = open_reply_stream(client, settings, model="m", messages=HELLO)
    return "".join(stream), stream


def test_usage_is_requested_from_the_provider(
    provider: FakeProvider, client: openai.OpenAI, settings: Settings
) -> None:
    stream_all(client, settings)
    body = provider.chat_requests()[-1].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_reasoning_tokens_are_read_from_completion_details(
    provider: FakeProvider, client: openai.OpenAI, settings: Settings
) -> None:
    provider.script(Reply(prompt_tokens=2008, completion_tokens=266, reasoning_tokens=261))
    _, stream = stream_all(client, settings)
    assert stream.usage == TokenUsage(prompt=2008, completion=266, reasoning=261)


def test_request_too_large_is_not_retried(provider: FakeProvider, settings: Settings) -> None:
    client = make_client(Settings(**{**settings.__dict__, "max_retries": 2}))
    provider.script(Failure(413, error_body("too large")), Reply())
    with pytest.raises(errors.RequestTooLarge):
        stream_all(client, settings)
    assert len(provider.chat_requests()) == 1


def test_missing_key_for_a_hosted_provider_is_refused_before_any_request() -> None:
    with pytest.raises(errors.InvalidApiKey, match="AI_API_KEY"):
        make_client(Settings(api_key="", base_url="https://api.groq.com/openai/v1"))


@pytest.mark.parametrize(
    "pasted",
    ["\u201cgsk_abc123\u201d", "sk-k\u00e9y\u20ac", "gsk_abc 123"],
    ids=["curly-quotes", "accented-and-symbol", "inner-space"],
)
def test_a_key_no_header_can_carry_is_refused_in_words_before_any_request(
    provider: FakeProvider, settings: Settings, pasted: str
) -> None:
    with pytest.raises(errors.InvalidApiKey) as raised:
        make_client(settings.with_api_key(pasted))
    assert str(raised.value) == (
        "The API key contains characters no API key has (quotes, spaces, accented letters or symbols, "
        "often picked up when copying it). Copy it again from the provider's console."
    )
    assert provider.chat_requests() == []


def test_local_server_needs_no_key(provider: FakeProvider, settings: Settings) -> None:
    keyless = Settings(**{**settings.__dict__, "api_key": ""})
    text, _ = stream_all(make_client(keyless), keyless)
    assert text == "Echo: hello"


def test_a_key_typed_in_for_the_session_is_the_one_sent(provider: FakeProvider, settings: Settings) -> None:
    typed = settings.with_api_key("  gsk_typed-in-abcdef123456 ")
    stream_all(make_client(typed), typed)
    headers = {name.lower(): value for name, value in provider.chat_requests()[-1].headers.items()}
    assert headers["authorization"] == "Bearer gsk_typed-in-abcdef123456"
