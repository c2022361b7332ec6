"""Catalogue: the REST API under the catalogue's faults and inputs, in-process through TestClient.

Every error is ``{"detail", "code"}`` (422s add ``errors``) with the status from the error's
``http_status`` and the words the chat page shows; no response carries a traceback or the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from fastapi.testclient import TestClient

from smallchat.api import create_app
from smallchat.config import Settings
from smallchat.repository import ChatStore
from tests.api_helpers import chat, sse_events
from tests.conftest import TEST_API_KEY
from tests.fake_provider import Failure, FakeProvider, Hang, Reply, error_body
from tests.reliability.conftest import stored

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
ECHOED = f"upstream refused key {TEST_API_KEY}"
SAID = " The provider said: upstream refused key [redacted]"
TIMEOUT_WORDS = "The AI provider did not answer in time. Try again; if it keeps happening, raise AI_TIMEOUT_SECONDS."


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    # A short timeout for the Hang case; every other case answers at once.
    with TestClient(create_app(replace(settings, request_timeout_seconds=0.5))) as client:
        yield client


@pytest.fixture
def api_session(api: TestClient) -> str:
    return api.post("/sessions").json()["id"]


def assert_nothing_leaked(response: httpx.Response) -> None:
    assert "Traceback" not in response.text
    assert TEST_API_KEY not in response.text
    assert all(TEST_API_KEY not in f"{name}: {value}" for name, value in response.headers.items())


MODEL_NOT_FOUND = "The model llama-3.3-70b-versatile was not found at {base_url} (404). Check AI_MODEL_NAME."


@pytest.mark.parametrize(
    ("scripted", "status", "code", "detail"),
    [
        pytest.param(
            [Failure(401, error_body(ECHOED))],
            401,
            "invalid_api_key",
            "The AI provider rejected the API key (401). Check AI_API_KEY, or enter another key." + SAID,
            id="provider-401",
        ),
        pytest.param(
            [Failure(404, error_body(ECHOED))], 404, "model_not_found", MODEL_NOT_FOUND + SAID, id="provider-404"
        ),
        pytest.param(
            [Failure(413, error_body(ECHOED))],
            413,
            "request_too_large",
            "The request is too large for the AI provider (413). Send a shorter message or start a new chat." + SAID,
            id="provider-413",
        ),
        pytest.param(
            [Failure(429, error_body(ECHOED))],
            429,
            "rate_limited",
            "The AI provider is rate limiting requests (429). Wait a moment, then retry." + SAID,
            id="provider-429",
        ),
        pytest.param(
            [Failure(500, error_body(ECHOED))],
            503,
            "provider_unavailable",
            "The AI provider had a server error (500). Try again in a moment." + SAID,
            id="provider-500",
        ),
        pytest.param(
            [Failure(503, None)],
            503,
            "provider_unavailable",
            "The AI provider had a server error (503). Try again in a moment.",
            id="provider-503-empty",
        ),
        pytest.param([Hang(seconds=3)], 504, "provider_timeout", TIMEOUT_WORDS, id="timeout"),
    ],
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_provider_faults_are_the_errors_http_status_with_the_chat_pages_words(
    api: TestClient,
    api_session: str,
    provider: FakeProvider,
    store: ChatStore,
    scripted: list,
    status: int,
    code: str,
    detail: str,
    stream: bool,
) -> None:
    provider.script(*scripted)
    response = chat(api, api_session, stream=stream)
    # Refused before the first token: a plain error response, streamed or not.
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": detail.format(base_url=provider.base_url), "code": code}
    assert_nothing_leaked(response)
    assert stored(store, api_session) == [("user", "hello")]  # kept once, ready to send again


def test_error_mid_stream_is_an_error_event_after_the_kept_partial_reply(
    api: TestClient, api_session: str, provider: FakeProvider, store: ChatStore
) -> None:
    provider.script(Reply(chunks=["Half ", "a reply"], error_after_chunks={"message": ECHOED, "type": "server_error"}))
    response = chat(api, api_session, stream=True)
    assert response.status_code == 200  # the stream had started: the status line was already sent
    events = sse_events(response)
    assert [name for name, _ in events] == ["delta", "delta", "usage", "error"]
    assert "".join(data["text"] for name, data in events if name == "delta") == "Half a reply"
    assert events[2][1]["reply"]["content"] == "Half a reply"
    assert events[3][1] == {
        "detail": "The AI provider stopped with an error." + SAID,
        "code": "provider_error",
        "status": 502,
    }
    assert_nothing_leaked(response)
    assert stored(store, api_session) == [("user", "hello"), ("assistant", "Half a reply")]


@pytest.mark.parametrize(
    ("session_id", "status", "body"),
    [
        pytest.param(
            UNKNOWN_ID,
            404,
            {"detail": "This chat session does not exist: it may have been deleted.", "code": "session_not_found"},
            id="unknown",
        ),
        pytest.param(
            "not-a-uuid",
            422,
            {
                "detail": "That chat link is not valid: the session id is not a UUID.",
                "code": "invalid_input",
                "errors": [],
            },
            id="malformed",
        ),
        pytest.param(
            "' OR 1=1 --",
            422,
            {
                "detail": "That chat link is not valid: the session id is not a UUID.",
                "code": "invalid_input",
                "errors": [],
            },
            id="sql-in-the-path",
        ),
    ],
)
def test_a_bad_session_id_is_its_errors_status_and_nothing_is_created(
    api: TestClient, provider: FakeProvider, store: ChatStore, session_id: str, status: int, body: dict
) -> None:
    response = chat(api, session_id, stream=True)  # refused before any stream starts
    assert (response.status_code, response.json()) == (status, body)
    assert_nothing_leaked(response)
    assert store.count_sessions() == 0
    assert provider.chat_requests() == []


def test_key_is_absent_from_every_api_response_even_when_the_provider_echoes_it(
    api: TestClient, api_session: str, provider: FakeProvider
) -> None:
    provider.script(
        Reply(chunks=["Your header: Bearer ", TEST_API_KEY]),
        Reply(chunks=["Streamed: ", TEST_API_KEY[:6], TEST_API_KEY[6:]]),
        Failure(401, error_body(f"Incorrect API key provided: {TEST_API_KEY}"), headers={"x-echo": TEST_API_KEY}),
        Failure(401, error_body(f"Incorrect API key provided: {TEST_API_KEY}")),
        Reply(chunks=["so far"], error_after_chunks={"message": ECHOED}),
    )
    responses = [
        chat(api, api_session, "one"),
        chat(api, api_session, "two", stream=True),
        chat(api, api_session, "three"),
        chat(api, api_session, "four", stream=True),
        chat(api, api_session, "five", stream=True),
        api.get(f"/sessions/{api_session}/history"),
        api.get("/sessions"),
        api.get("/health"),
    ]
    # The provider did echo it, in every way scripted: the responses are worth searching.
    assert [response.status_code for response in responses] == [200, 200, 401, 401, 200, 200, 200, 200]
    assert responses[0].json()["reply"]["content"] == "Your header: Bearer [redacted]"
    assert "[redacted]" in responses[2].json()["detail"]
    for response in responses:
        assert_nothing_leaked(response)


@pytest.mark.parametrize(
    ("raw_body", "words"),
    [
        pytest.param(b'{"message": ""}', "The message is empty. Type something to send.", id="empty"),
        pytest.param(
            b'{"message": " \\n\\t\\u3000 "}', "The message is empty. Type something to send.", id="whitespace-only"
        ),
        pytest.param(
            json.dumps({"message": "x" * 200_000}).encode(),
            "The message is too long: 200,000 characters, the limit is 100,000 (MAX_MESSAGE_CHARS).",
            id="200kb-over-the-limit",
        ),
        pytest.param(
            b'{"message": "nul\\u0000inside"}',
            r"The message contains a NUL character (\x00), which cannot be stored. Remove it and send again.",
            id="nul-character",
        ),
        pytest.param(
            b'{"message": "bad \\ud800 text"}',
            "The message contains characters that are not valid text (unpaired surrogates).",
            id="lone-surrogate",
        ),
    ],
)
def test_refused_input_is_422_in_the_chat_pages_words_and_nothing_is_saved(
    api: TestClient, api_session: str, provider: FakeProvider, store: ChatStore, raw_body: bytes, words: str
) -> None:
    response = api.post(f"/sessions/{api_session}/chat", content=raw_body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {"detail": words, "code": "invalid_input", "errors": []}
    assert "x" * 100 not in response.text  # the input is not echoed back
    assert stored(store, api_session) == []
    assert provider.chat_requests() == []
