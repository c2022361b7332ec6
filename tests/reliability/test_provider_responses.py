"""Catalogue: what the provider may answer, through the real "send a message" use case.

Every case checks the error type and the exact words a person reads, that the user's message
is kept exactly once, and that the API key (echoed in every error body here) is nowhere.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import replace
from decimal import Decimal

import openai
import pytest

from smallchat import errors
from smallchat.chat import send_message
from smallchat.config import Settings
from smallchat.llm import make_client
from smallchat.repository import ChatStore
from smallchat.usage import TokenUsage
from tests.apptest_helpers import configure_app, run_app, shown
from tests.conftest import TEST_API_KEY
from tests.fake_provider import Failure, FakeProvider, Hang, Raw, Reply, error_body
from tests.reliability.conftest import (
    assert_key_absent_from_database,
    assert_totals_equal_the_rows,
    stored,
)

ECHOED = f"upstream refused key {TEST_API_KEY}"
SAID = " The provider said: upstream refused key [redacted]"
BASE = {
    400: "The AI provider refused the request (400).",
    401: "The AI provider rejected the API key (401). Check AI_API_KEY, or enter another key.",
    403: "The API key is not allowed to use this model or endpoint (403).",
    404: "The model {model} was not found at {base_url} (404). Check AI_MODEL_NAME.",
    408: "The AI provider timed out (408). Try again.",
    409: "The AI provider refused the request (409).",
    413: "The request is too large for the AI provider (413). Send a shorter message or start a new chat.",
    422: "The AI provider refused the request (422).",
    429: "The AI provider is rate limiting requests (429). Wait a moment, then retry.",
    500: "The AI provider had a server error (500). Try again in a moment.",
    502: "The AI provider had a server error (502). Try again in a moment.",
    503: "The AI provider had a server error (503). Try again in a moment.",
    504: "The AI provider had a server error (504). Try again in a moment.",
}
TYPES = {
    400: (errors.ProviderError, True),
    401: (errors.InvalidApiKey, False),
    403: (errors.PermissionDenied, False),
    404: (errors.ModelNotFound, False),
    408: (errors.ProviderTimeout, True),
    409: (errors.ProviderError, True),
    413: (errors.RequestTooLarge, False),
    422: (errors.ProviderError, True),
    429: (errors.RateLimited, True),
    500: (errors.ProviderUnavailable, True),
    502: (errors.ProviderUnavailable, True),
    503: (errors.ProviderUnavailable, True),
    504: (errors.ProviderUnavailable, True),
}
STATUS_CASES = [
    pytest.param(status, with_body, id=f"{status}-{'json' if with_body else 'empty'}")
    for status in BASE
    for with_body in (True, False)
]


def free_port_url() -> str:
    """An address where nothing listens: a port that was free a moment ago, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


def send(store: ChatStore, client: openai.OpenAI, settings: Settings, session_id: str, text: str = "hello"):
    return send_message(store, client, settings, session_id=session_id, text=text)


def fails_with(store, client, settings, session_id, error_type: type[errors.SmallChatError]) -> str:
    """Send "hello", expect ``error_type``; return the words the person reads."""
    with pytest.raises(error_type) as raised:
        send(store, client, settings, session_id)
    assert type(raised.value) is error_type  # not merely a subclass: the type decides the page's offer
    return str(raised.value)


@pytest.mark.parametrize(("status", "with_body"), STATUS_CASES)
def test_error_status_is_explained_and_the_message_is_kept_once(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    provider: FakeProvider,
    session_id: str,
    status: int,
    with_body: bool,
) -> None:
    provider.script(Failure(status, error_body(ECHOED) if with_body else None))
    error_type, retryable = TYPES[status]
    expected = BASE[status].format(model=settings.model_name, base_url=settings.base_url)
    assert fails_with(store, client, settings, session_id, error_type) == expected + (SAID if with_body else "")
    assert error_type.retryable is retryable
    assert stored(store, session_id) == [("user", "hello")]
    assert len(provider.chat_requests()) == 1  # AI_MAX_RETRIES=0 here: nothing was resent
    assert_key_absent_from_database(settings)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        pytest.param(
            Raw(502, b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>", "text/html"),
            "The AI provider had a server error (502). Try again in a moment.",
            id="html-page-from-a-proxy",
        ),
        pytest.param(
            Failure(500, f"Internal Server Error: key={TEST_API_KEY}"),
            "The AI provider had a server error (500). Try again in a moment.",
            id="plain-text",
        ),
        pytest.param(
            Failure(404, {"detail": "Not Found"}),
            "The model llama-3.3-70b-versatile was not found at {base_url} (404). Check AI_MODEL_NAME.",
            id="json-of-another-shape",
        ),
    ],
)
def test_error_body_that_is_not_the_openai_shape_gives_the_plain_explanation(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    provider: FakeProvider,
    session_id: str,
    response: Raw | Failure,
    expected: str,
) -> None:
    provider.script(response)
    with pytest.raises(errors.ProviderError) as raised:
        send(store, client, settings, session_id)
    assert str(raised.value) == expected.format(base_url=settings.base_url)
    assert stored(store, session_id) == [("user", "hello")]
    assert_key_absent_from_database(settings)


def test_context_too_long_says_to_start_a_new_chat(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    provider.script(
        Failure(400, error_body("This model's maximum context length is 8192 tokens", code="context_length_exceeded"))
    )
    words = fails_with(store, client, settings, session_id, errors.ContextTooLong)
    assert words == (
        "This conversation is now too long for the model's context window. Start a new chat, "
        "or reset this one, to continue."
    )
    assert stored(store, session_id) == [("user", "hello")]


def test_rate_limit_with_a_short_retry_after_is_retried_and_answered_once(
    store: ChatStore, provider: FakeProvider, settings: Settings, session_id: str
) -> None:
    retrying = replace(settings, max_retries=2)
    provider.script(Failure(429, error_body("slow down"), headers={"retry-after": "1"}), Reply(chunks=["ok"]))
    started = time.monotonic()
    send(store, make_client(retrying), retrying, session_id)
    assert time.monotonic() - started >= 0.9  # the SDK waited the second the provider asked for
    assert stored(store, session_id) == [("user", "hello"), ("assistant", "ok")]
    assert len(provider.chat_requests()) == 2


@pytest.mark.parametrize(
    ("retry_after", "max_retries", "wait"),
    [
        pytest.param("20", 0, "20 seconds", id="retries-off"),
        # Over the SDK's two-minute ceiling it does not retry at all: the person must wait.
        pytest.param("3600", 2, "60 minutes", id="longer-than-the-sdk-waits"),
    ],
)
def test_rate_limit_that_is_not_retried_says_how_long_to_wait(
    store: ChatStore,
    provider: FakeProvider,
    settings: Settings,
    session_id: str,
    retry_after: str,
    max_retries: int,
    wait: str,
) -> None:
    configured = replace(settings, max_retries=max_retries)
    provider.script(Failure(429, error_body("Rate limit reached"), headers={"retry-after": retry_after}))
    words = fails_with(store, make_client(configured), configured, session_id, errors.RateLimited)
    assert words == (
        f"The AI provider is rate limiting requests (429). It asks to wait {wait}, then retry. "
        "The provider said: Rate limit reached"
    )
    assert len(provider.chat_requests()) == 1
    assert stored(store, session_id) == [("user", "hello")]


def test_retry_after_a_failure_sends_the_kept_message_once(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Failure(503, error_body("overloaded")))
    with pytest.raises(errors.ProviderUnavailable):
        send(store, client, settings, session_id)
    reply = send_message(store, client, settings, session_id=session_id, text=None)
    assert reply.content == "Echo: hello"
    assert stored(store, session_id) == [("user", "hello"), ("assistant", "Echo: hello")]
    assert provider.chat_requests()[-1].body["messages"] == [{"role": "user", "content": "hello"}]


def test_error_event_in_the_middle_of_a_stream_keeps_the_text_flagged_incomplete(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Reply(chunks=["Half ", "a reply"], error_after_chunks={"message": ECHOED, "type": "server_error"}))
    words = fails_with(store, client, settings, session_id, errors.ProviderError)
    assert words == "The AI provider stopped with an error." + SAID
    assert stored(store, session_id) == [("user", "hello"), ("assistant", "Half a reply")]
    reply = store.list_messages(session_id)[-1]
    assert not reply.complete and reply.usage_estimated
    assert_totals_equal_the_rows(store, session_id)
    assert_key_absent_from_database(settings)


@pytest.mark.parametrize(
    ("reply", "complete", "estimated"),
    [
        # The provider said it finished and sent its usage: only the [DONE] line is missing.
        pytest.param(Reply(chunks=["Whole"], send_done=False), True, False, id="finished-without-done"),
        pytest.param(
            Reply(chunks=["Cut"], send_finish=False, send_done=False, usage_placement="none"),
            False,
            True,
            id="cut-between-events",
        ),
        pytest.param(
            Reply(chunks=["Cut"], send_finish=False, usage_placement="none", cut_mid_event=True),
            False,
            True,
            id="cut-inside-an-event",
        ),
    ],
)
def test_stream_that_ends_without_done_keeps_the_text(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    provider: FakeProvider,
    session_id: str,
    reply: Reply,
    complete: bool,
    estimated: bool,
) -> None:
    provider.script(reply)
    saved = send(store, client, settings, session_id)
    assert (saved.content, saved.complete, saved.usage_estimated) == (reply.chunks[0], complete, estimated)
    assert [role for role, _ in stored(store, session_id)] == ["user", "assistant"]


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(Reply(chunks=[], send_finish=False, usage_placement="none"), id="only-done"),
        pytest.param(
            Reply(chunks=[], send_finish=False, send_done=False, usage_placement="none"), id="cut-before-any-text"
        ),
        pytest.param(Raw(200, b"<html>Sign in to the Wi-Fi</html>", "text/html"), id="web-page-instead-of-a-stream"),
    ],
)
def test_reply_that_never_starts_is_an_error_not_an_empty_reply(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    provider: FakeProvider,
    session_id: str,
    response: Reply | Raw,
) -> None:
    provider.script(response)
    words = fails_with(store, client, settings, session_id, errors.ProviderError)
    assert words == (
        "The AI provider ended the reply without sending any of it. Try again; if it keeps happening, "
        "check AI_BASE_URL."
    )
    assert stored(store, session_id) == [("user", "hello")]


def test_model_that_finishes_with_no_text_gets_an_empty_reply_with_its_cost(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    # A finished empty reply (a content filter, say) was billed: it is kept, not retried.
    provider.script(Reply(chunks=[], prompt_tokens=8, completion_tokens=0))
    saved = send(store, client, settings, session_id)
    assert (saved.content, saved.complete, saved.usage) == ("", True, TokenUsage(prompt=8, completion=0))
    assert saved.cost == Decimal("0.000002")  # 8 * 0.25 per 1M


def test_server_that_ignores_stream_true_and_answers_in_one_body_is_read(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "whole-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "All at once"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
    }
    provider.script(Raw(200, json.dumps(body).encode(), "application/json"))
    saved = send(store, client, settings, session_id)
    assert (saved.content, saved.complete, saved.usage_estimated) == ("All at once", True, False)
    assert (saved.usage, saved.model) == (TokenUsage(prompt=12, completion=4), "whole-model")
    assert saved.cost == Decimal("0.000011")  # 12 * 0.25 + 4 * 2.00 = 11 per 1M


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(chunks=["Partial "], raw_events=["{not json"]), id="event-not-json"),
        pytest.param(Reply(chunks=["Partial ", "bad \ud800 bytes"]), id="bytes-not-utf8"),
    ],
)
def test_unreadable_event_mid_stream_keeps_the_text_before_it(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str, reply: Reply
) -> None:
    # Without ascii_json the fake writes the lone surrogate as raw bytes: not UTF-8 at all.
    provider.script(reply)
    words = fails_with(store, client, settings, session_id, errors.ProviderError)
    assert words == "The AI provider sent part of the reply in a form SmallChat cannot read. Try again."
    assert stored(store, session_id) == [("user", "hello"), ("assistant", "Partial ")]
    assert not store.list_messages(session_id)[-1].complete


def test_provider_that_stalls_mid_reply_times_out_and_keeps_the_text(
    store: ChatStore, provider: FakeProvider, settings: Settings, session_id: str
) -> None:
    impatient = replace(settings, request_timeout_seconds=0.5)
    provider.script(Reply(chunks=["Before ", "the stall"], stall_seconds=3))
    words = fails_with(store, make_client(impatient), impatient, session_id, errors.ProviderTimeout)
    assert words == (
        "The AI provider did not answer in time. Try again; if it keeps happening, raise AI_TIMEOUT_SECONDS."
    )
    assert stored(store, session_id) == [("user", "hello"), ("assistant", "Before the stall")]
    assert not store.list_messages(session_id)[-1].complete


def test_server_that_accepts_and_never_answers_times_out_at_the_configured_timeout(
    store: ChatStore, provider: FakeProvider, settings: Settings, session_id: str
) -> None:
    impatient = replace(settings, request_timeout_seconds=0.5)
    provider.script(Hang(seconds=10))
    started = time.monotonic()
    words = fails_with(store, make_client(impatient), impatient, session_id, errors.ProviderTimeout)
    # Bounded by the 0.5 s setting, not by the server's 10 s of silence (generous for a busy machine).
    assert time.monotonic() - started < 5
    assert "did not answer in time" in words
    assert stored(store, session_id) == [("user", "hello")]


def test_refused_connection_names_the_address(store: ChatStore, settings: Settings, session_id: str) -> None:
    closed = replace(settings, base_url=free_port_url())
    words = fails_with(store, make_client(closed), closed, session_id, errors.ProviderUnreachable)
    assert words == (
        f"Could not connect to the AI provider at {closed.base_url}. "
        "Check AI_BASE_URL and your network, then try again."
    )
    assert stored(store, session_id) == [("user", "hello")]


@pytest.mark.parametrize(
    ("credentials", "query"),
    [
        pytest.param("user:sk-in-the-url-123@", "", id="user-and-password"),
        pytest.param("", "?api-key=sk-in-the-query-123", id="query"),
    ],
)
def test_an_address_carrying_credentials_is_named_without_them(
    store: ChatStore, settings: Settings, session_id: str, credentials: str, query: str
) -> None:
    address = free_port_url()  # http://127.0.0.1:<port>/v1
    with_key = address.replace("http://", f"http://{credentials}") + query
    closed = replace(settings, base_url=with_key)
    words = fails_with(store, make_client(closed), closed, session_id, errors.ProviderUnreachable)
    assert words == (
        f"Could not connect to the AI provider at {address}. Check AI_BASE_URL and your network, then try again."
    )


@pytest.mark.parametrize(
    "placement",
    [
        pytest.param("final_chunk", id="usage-in-a-last-chunk"),
        pytest.param("x_groq", id="usage-in-x_groq"),
        pytest.param("both", id="usage-repeated"),
        pytest.param("every_chunk", id="usage-as-running-totals"),
    ],
)
def test_usage_wherever_it_comes_is_counted_once(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    provider: FakeProvider,
    session_id: str,
    placement: str,
) -> None:
    provider.script(
        Reply(
            chunks=["a", "b"], prompt_tokens=2006, cached_tokens=1920, completion_tokens=300, usage_placement=placement
        )
    )
    saved = send(store, client, settings, session_id)
    assert saved.usage == TokenUsage(prompt=2006, cached=1920, completion=300)
    assert not saved.usage_estimated
    # 86 * 0.25 + 1920 * 0.025 + 300 * 2.00 = 669.5 per 1M, counted once in the session too.
    assert saved.cost == Decimal("0.0006695")
    assert store.get_session(session_id).cost == Decimal("0.0006695")
    assert_totals_equal_the_rows(store, session_id)


def test_absent_usage_is_estimated_and_flagged(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    store.set_session_model(session_id, model="house-model")  # no tokenizer: the 4-characters rule
    provider.script(Reply(chunks=["12345678"], usage_placement="none"))
    saved = send(store, client, settings, session_id, text="abcd")
    # Prompt: ceil(4 / 4) + 3 framing + 3 priming = 7; completion: ceil(8 / 4) = 2.
    assert (saved.usage, saved.usage_estimated) == (TokenUsage(prompt=7, completion=2), True)
    assert saved.cost == Decimal("0.00000575")  # 7 * 0.25 + 2 * 2.00 per 1M
    assert store.get_session(session_id).estimated_replies == 1


@pytest.mark.parametrize(
    "refusal",
    [
        pytest.param(
            Failure(400, error_body("Unrecognized request argument supplied: stream_options")), id="stream_options-400"
        ),
        pytest.param(
            Failure(
                422,
                {
                    "detail": [
                        {
                            "type": "extra_forbidden",
                            "loc": ["body", "stream_options"],
                            "msg": "Extra inputs are not permitted",
                        }
                    ]
                },
            ),
            id="stream_options-422",
        ),
    ],
)
def test_server_that_rejects_stream_options_is_asked_again_without_them(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    provider: FakeProvider,
    session_id: str,
    refusal: Failure,
) -> None:
    provider.script(refusal, Reply(chunks=["fine"], usage_placement="none"))
    saved = send(store, client, settings, session_id)
    assert saved.content == "fine"
    assert saved.usage_estimated  # no usage was asked for the second time
    first, second = provider.chat_requests()
    assert "stream_options" in first.body
    assert "stream_options" not in second.body
    assert stored(store, session_id) == [("user", "hello"), ("assistant", "fine")]


def test_model_that_rejects_max_tokens_gets_the_cap_as_max_completion_tokens(
    store: ChatStore, provider: FakeProvider, settings: Settings, session_id: str
) -> None:
    capped = replace(settings, max_output_tokens=200)
    provider.script(
        Failure(
            400,
            error_body(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                code="unsupported_parameter",
            ),
        ),
        Reply(chunks=["capped"]),
    )
    send(store, make_client(capped), capped, session_id)
    first, second = provider.chat_requests()
    assert first.body["max_tokens"] == 200
    # The cap on the reply's cost is kept under the new name, never silently dropped.
    assert second.body["max_completion_tokens"] == 200
    assert "max_tokens" not in second.body
    assert stored(store, session_id) == [("user", "hello"), ("assistant", "capped")]


def test_a_complaint_about_the_value_of_max_tokens_is_not_taken_for_a_rejection(
    store: ChatStore, provider: FakeProvider, settings: Settings, session_id: str
) -> None:
    capped = replace(settings, max_output_tokens=100_000)
    provider.script(Failure(400, error_body("max_tokens is too large: 100000. This model supports at most 8192.")))
    words = fails_with(store, make_client(capped), capped, session_id, errors.ProviderError)
    assert words == (
        "The AI provider refused the request (400). The provider said: max_tokens is too large: 100000. "
        "This model supports at most 8192."
    )
    assert len(provider.chat_requests()) == 1


@pytest.mark.parametrize(
    ("chunks", "ascii_json", "expected"),
    [
        pytest.param(
            ["😀👩🏽‍💻 ", "עברית and English ", "zero\u200bwidth\u200d ", "e\u0301"],
            False,
            "😀👩🏽‍💻 עברית and English zero\u200bwidth\u200d e\u0301",
            id="emoji-rtl-zero-width-combining",
        ),
        pytest.param(["a\ud800b"], True, "a\ufffdb", id="lone-surrogate-escape"),
        pytest.param(["x\udc00"], True, "x\ufffd", id="lone-low-surrogate-at-the-end"),
        pytest.param(["smile \ud83d", "\ude00!"], True, "smile 😀!", id="pair-split-across-deltas"),
        pytest.param(["nul\x00here"], True, "nul\ufffdhere", id="nul-character"),
        pytest.param(
            ["Your key is ", TEST_API_KEY[:7], TEST_API_KEY[7:], "."],
            False,
            "Your key is [redacted].",
            id="key-echoed-in-the-reply",
        ),
    ],
)
def test_odd_text_in_deltas_is_stored_and_shown_safely(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    provider: FakeProvider,
    session_id: str,
    chunks: list[str],
    ascii_json: bool,
    expected: str,
) -> None:
    provider.script(Reply(chunks=chunks, ascii_json=ascii_json))
    saved = send(store, client, settings, session_id)
    assert saved.content == expected
    assert store.list_messages(session_id)[-1].content == expected
    assert saved.complete
    assert_key_absent_from_database(settings)


@pytest.mark.parametrize(
    ("script", "changes", "words", "kept"),
    [
        pytest.param(
            [Failure(401, error_body(ECHOED))], {}, "rejected the API key (401)", [("user", "hello")], id="401-echo"
        ),
        pytest.param(
            [Failure(429, error_body("slow down"), headers={"retry-after": "30"})],
            {},
            "It asks to wait 30 seconds, then retry.",
            [("user", "hello")],
            id="429-retry-after",
        ),
        pytest.param(
            [Raw(502, b"<html><h1>Bad Gateway</h1></html>", "text/html")],
            {},
            "server error (502)",
            [("user", "hello")],
            id="502-html",
        ),
        pytest.param(
            [Reply(chunks=["Half"], error_after_chunks={"message": ECHOED})],
            {},
            "stopped with an error",
            [("user", "hello"), ("assistant", "Half")],
            id="error-event-mid-stream",
        ),
        pytest.param(
            [Reply(chunks=["Half"], raw_events=["{not json"])],
            {},
            "in a form SmallChat cannot read",
            [("user", "hello"), ("assistant", "Half")],
            id="unreadable-event-mid-stream",
        ),
        pytest.param(
            [Hang(seconds=10)],
            {"request_timeout_seconds": 0.5},
            "did not answer in time",
            [("user", "hello")],
            id="no-answer",
        ),
        pytest.param([], {"base_url": None}, "Could not connect", [("user", "hello")], id="connection-refused"),
    ],
)
def test_provider_fault_in_the_page_is_an_inline_error_and_the_message_is_kept(
    provider: FakeProvider,
    store: ChatStore,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    script: list,
    changes: dict,
    words: str,
    kept: list[tuple[str, str]],
) -> None:
    if "base_url" in changes:
        changes = {**changes, "base_url": free_port_url()}
    configure_app(monkeypatch, replace(settings, **changes))
    provider.script(*script)
    app = run_app().chat_input[0].set_value("hello").run()
    assert not app.exception
    assert any(words in shown(error.value) for error in app.error)
    assert stored(store, app.query_params["session"]) == kept
    assert TEST_API_KEY not in "".join(str(node.proto) for node in app if getattr(node, "proto", None) is not None)


def test_odd_text_streams_into_the_page_without_an_error(
    provider: FakeProvider, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    configure_app(monkeypatch, settings)
    provider.script(Reply(chunks=["smile \ud83d", "\ude00 and a lone \udc00 one"], ascii_json=True))
    app = run_app().chat_input[0].set_value("hello").run()
    assert not app.exception
    assert not app.error
    assert app.chat_message[1].markdown[0].value == "smile 😀 and a lone \ufffd one"
