"""The provider client against the fake server, through the real openai SDK."""

from __future__ import annotations

import time

import openai
import pytest

from smallchat import errors
from smallchat.config import Settings
from smallchat.llm import ChatMessage, make_client, open_reply_stream
from smallchat.usage import TokenUsage
from tests.conftest import TEST_API_KEY
from tests.fake_provider import Failure, FakeProvider, Hang, Reply, error_body

HELLO = [ChatMessage("user", "hello")]


def stream_all(client: openai.OpenAI, settings: Settings):
    stream = open_reply_stream(client, settings, model="m", messages=HELLO)
    return "".join(stream), stream


@pytest.mark.parametrize("placement", ["final_chunk", "x_groq", "both", "every_chunk"])
def test_usage_is_read_wherever_the_provider_sends_it_and_counted_once(
    provider: FakeProvider, client: openai.OpenAI, settings: Settings, placement: str
) -> None:
    provider.script(
        Reply(
            chunks=["a", "b", "c"], prompt_tokens=23, completion_tokens=19, cached_tokens=20, usage_placement=placement
        )
    )
    text, stream = stream_all(client, settings)
    assert text == "abc"
    assert stream.usage == TokenUsage(prompt=23, completion=19, cached=20)
    assert stream.finished


def test_usage_is_requested_from_the_provider(
    provider: FakeProvider, client: openai.OpenAI, settings: Settings
) -> None:
    stream_all(client, settings)
    body = provider.chat_requests()[-1].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_stream_without_usage_reports_none(provider: FakeProvider, client: openai.OpenAI, settings: Settings) -> None:
    provider.script(Reply(usage_placement="none"))
    text, stream = stream_all(client, settings)
    assert text == "Hello there!"
    assert stream.usage is None


def test_reasoning_tokens_are_read_from_completion_details(
    provider: FakeProvider, client: openai.OpenAI, settings: Settings
) -> None:
    provider.script(Reply(prompt_tokens=2008, completion_tokens=266, reasoning_tokens=261))
    _, stream = stream_all(client, settings)
    assert stream.usage == TokenUsage(prompt=2008, completion=266, reasoning=261)


def test_stream_cut_without_finish_is_not_finished(
    provider: FakeProvider, client: openai.OpenAI, settings: Settings
) -> None:
    provider.script(Reply(send_finish=False, send_done=False, usage_placement="none"))
    text, stream = stream_all(client, settings)
    assert text == "Hello there!"
    assert not stream.finished


def test_server_rejecting_stream_options_is_asked_again_without_them(
    provider: FakeProvider, client: openai.OpenAI, settings: Settings
) -> None:
    provider.script(Failure(400, error_body("Unrecognized request argument supplied: stream_options")), Reply())
    text, _ = stream_all(client, settings)
    assert text == "Hello there!"
    assert "stream_options" not in provider.chat_requests()[-1].body


@pytest.mark.parametrize(
    ("failure", "error_type", "words"),
    [
        (Failure(401, error_body(f"Incorrect API key provided: {TEST_API_KEY}")), errors.InvalidApiKey, "API key"),
        (Failure(403, error_body("forbidden")), errors.PermissionDenied, "not allowed"),
        (Failure(404, error_body("The model `m` does not exist")), errors.ModelNotFound, "AI_MODEL_NAME"),
        (Failure(413, error_body("Request too large")), errors.RequestTooLarge, "too large"),
        (
            Failure(
                400, error_body("This model's maximum context length is 8192 tokens", code="context_length_exceeded")
            ),
            errors.ContextTooLong,
            "too long",
        ),
        (Failure(429, error_body("Rate limit reached")), errors.RateLimited, "rate limiting"),
        (Failure(500, "Internal Server Error"), errors.ProviderUnavailable, "server error (500)"),
        (Failure(503), errors.ProviderUnavailable, "server error (503)"),
    ],
)
def test_provider_errors_become_messages_a_person_can_act_on(
    provider: FakeProvider, client: openai.OpenAI, settings: Settings, failure: Failure, error_type: type, words: str
) -> None:
    provider.script(failure)
    with pytest.raises(error_type) as raised:
        stream_all(client, settings)
    assert words in str(raised.value)
    assert TEST_API_KEY not in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_echoed_key_is_redacted(provider: FakeProvider, client: openai.OpenAI, settings: Settings) -> None:
    provider.script(Failure(401, error_body(f"Incorrect API key provided: {TEST_API_KEY}")))
    with pytest.raises(errors.InvalidApiKey) as raised:
        stream_all(client, settings)
    assert "[redacted]" in str(raised.value)


def test_rate_limit_retries_honour_retry_after(provider: FakeProvider, settings: Settings) -> None:
    client = make_client(Settings(**{**settings.__dict__, "max_retries": 2}))
    provider.script(Failure(429, error_body("slow down"), headers={"retry-after": "1"}), Reply())
    started = time.monotonic()
    text, _ = stream_all(client, settings)
    waited = time.monotonic() - started
    assert text == "Hello there!"
    assert len(provider.chat_requests()) == 2
    assert waited >= 0.9  # the SDK waited the second the provider asked for


def test_request_too_large_is_not_retried(provider: FakeProvider, settings: Settings) -> None:
    client = make_client(Settings(**{**settings.__dict__, "max_retries": 2}))
    provider.script(Failure(413, error_body("too large")), Reply())
    with pytest.raises(errors.RequestTooLarge):
        stream_all(client, settings)
    assert len(provider.chat_requests()) == 1


def test_error_in_the_middle_of_a_stream_keeps_what_arrived(
    provider: FakeProvider, client: openai.OpenAI, settings: Settings
) -> None:
    provider.script(Reply(chunks=["partial"], error_after_chunks={"message": "overloaded", "type": "server_error"}))
    stream = open_reply_stream(client, settings, model="m", messages=HELLO)
    received = []
    with pytest.raises(errors.ProviderError, match="overloaded"):
        for text in stream:
            received.append(text)
    assert received == ["partial"]


def test_silent_server_times_out_with_a_clear_message(provider: FakeProvider, settings: Settings) -> None:
    client = make_client(Settings(**{**settings.__dict__, "request_timeout_seconds": 0.5}))
    provider.script(Hang(seconds=2))
    with pytest.raises(errors.ProviderTimeout, match="did not answer in time"):
        stream_all(client, settings)


def test_refused_connection_names_the_url(settings: Settings) -> None:
    unreachable = Settings(**{**settings.__dict__, "base_url": "http://127.0.0.1:9/v1"})
    with pytest.raises(errors.ProviderUnreachable, match=r"127\.0\.0\.1:9"):
        stream_all(make_client(unreachable), unreachable)


def test_missing_key_for_a_hosted_provider_is_refused_before_any_request() -> None:
    with pytest.raises(errors.InvalidApiKey, match="AI_API_KEY"):
        make_client(Settings(api_key="", base_url="https://api.groq.com/openai/v1"))


def test_local_server_needs_no_key(provider: FakeProvider, settings: Settings) -> None:
    keyless = Settings(**{**settings.__dict__, "api_key": ""})
    text, _ = stream_all(make_client(keyless), keyless)
    assert text == "Echo: hello"


def test_a_key_typed_in_for_the_session_is_the_one_sent(provider: FakeProvider, settings: Settings) -> None:
    typed = settings.with_api_key("  gsk_typed-in-abcdef123456 ")
    stream_all(make_client(typed), typed)
    headers = {name.lower(): value for name, value in provider.chat_requests()[-1].headers.items()}
    assert headers["authorization"] == "Bearer gsk_typed-in-abcdef123456"
