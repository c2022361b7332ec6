"""The REST API through FastAPI's TestClient, against the fake provider and a temp database.

Costs are worked out by hand at the default tariff: $0.25 input, $0.025 cached input and
$2.00 output per 1M tokens.
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smallchat.api import create_app, delta_event
from smallchat.api_schemas import DeltaOut, ProviderErrorOut
from smallchat.budgets import set_budget
from smallchat.config import Settings
from smallchat.errors import ConfigError, StorageError
from smallchat.repository import ChatStore
from tests.api_helpers import chat, sse_events
from tests.apptest_helpers import ROOT, configure_app, run_app
from tests.conftest import TEST_API_KEY
from tests.fake_provider import Failure, FakeProvider, Hang, Raw, Reply, error_body

UNKNOWN_SESSION = "00000000-0000-4000-8000-000000000000"
NOT_FOUND_TEXT = "This chat session does not exist: it may have been deleted."
NOT_A_UUID_TEXT = "That chat link is not valid: the session id is not a UUID."


def with_settings(settings: Settings, **changes: Any) -> Settings:
    return Settings(**{**settings.__dict__, **changes})


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def session_id(api: TestClient) -> str:
    return api.post("/sessions").json()["id"]


# Endpoints ---------------------------------------------------------------------------------


def test_health_answers_ok_even_when_a_token_is_required(settings: Settings) -> None:
    with TestClient(create_app(with_settings(settings, api_token="s3cret"))) as client:
        response = client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_new_session_redirects_to_the_chat_page_open_on_a_new_session(settings: Settings, store: ChatStore) -> None:
    with TestClient(create_app(with_settings(settings, ui_url="https://chat.example.com/"))) as client:
        response = client.get("/new_session", follow_redirects=False)
    assert response.status_code == 307
    location = response.headers["location"]
    prefix = "https://chat.example.com/?session="
    assert location.startswith(prefix)
    session_id = location.removeprefix(prefix)
    assert store.get_session(session_id).message_count == 0


@pytest.mark.parametrize(
    ("ui_url", "expected"),
    [
        ("http://localhost:8501", "http://localhost:8501/?session={id}"),
        ("https://chat.example.com/smallchat/", "https://chat.example.com/smallchat/?session={id}"),
        # Streamlit's own query parameters (embedding) stay; an old session parameter is replaced.
        ("https://chat.example.com/?embed=true&session=old", "https://chat.example.com/?embed=true&session={id}"),
    ],
)
def test_the_chat_link_keeps_what_ui_url_says(settings: Settings, ui_url: str, expected: str) -> None:
    with TestClient(create_app(with_settings(settings, ui_url=ui_url))) as client:
        session = client.post("/sessions").json()
    assert session["chat_url"] == expected.format(id=session["id"])


def test_post_sessions_creates_an_empty_session(api: TestClient, store: ChatStore, settings: Settings) -> None:
    response = api.post("/sessions")
    assert response.status_code == 201
    body = response.json()
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert body["title"] == "New chat"
    assert body["model"] == settings.model_name
    assert body["message_count"] == 0
    assert body["usage"] == {"prompt_tokens": 0, "cached_tokens": 0, "completion_tokens": 0}
    assert body["total_cost_usd"] == "0.00"
    assert body["chat_url"] == f"http://localhost:8501/?session={body['id']}"
    assert store.get_session(body["id"]).id == body["id"]


def test_chat_returns_the_reply_with_its_tokens_and_exact_cost(
    api: TestClient, provider: FakeProvider, session_id: str
) -> None:
    provider.script(
        Reply(chunks=["Cached ", "input is cheap."], prompt_tokens=2006, cached_tokens=1920, completion_tokens=300)
    )
    response = chat(api, session_id, "What does prompt caching save?")
    assert response.status_code == 200
    reply, session = response.json()["reply"], response.json()["session"]
    assert reply["role"] == "assistant"
    assert reply["content"] == "Cached input is cheap."
    assert reply["model"] == "fake-model"
    assert reply["usage"] == {
        "prompt_tokens": 2006,
        "cached_tokens": 1920,
        "completion_tokens": 300,
        "reasoning_tokens": 0,
        "estimated": False,
    }
    # 86 * 0.25 + 1920 * 0.025 + 300 * 2.00 = 21.5 + 48 + 600 = 669.5 per 1M tokens
    assert reply["cost"]["usd"] == "0.0006695"
    assert reply["cost"]["status"] == "exact"
    assert reply["cost"]["tariff"] == {
        "pricing_model": "gpt-5-mini",
        "source": "default tariff",
        "input_per_mtok": "0.25",
        "cached_input_per_mtok": "0.025",
        "output_per_mtok": "2.00",
    }
    assert reply["complete"] is True
    assert session["title"] == "What does prompt caching save?"
    assert session["message_count"] == 2
    assert session["total_cost_usd"] == "0.0006695"


def test_money_in_json_is_an_exact_decimal_string_never_a_float(
    api: TestClient, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Reply(chunks=["k"], prompt_tokens=1, completion_tokens=0))
    response = chat(api, session_id, "hi")
    # 1 * 0.25 per 1M = 0.00000025: as a float it would read 2.5e-07.
    assert '"usd":"0.00000025"' in response.text
    assert '"total_cost_usd":"0.00000025"' in response.text


def test_a_reply_whose_price_is_unknown_costs_null_with_a_flag_never_zero(
    settings: Settings, provider: FakeProvider
) -> None:
    # "fake-model" has no list price in genai-prices.
    with TestClient(create_app(with_settings(settings, pricing="list"))) as client:
        session_id = client.post("/sessions").json()["id"]
        provider.script(Reply(chunks=["ok"], prompt_tokens=10, completion_tokens=3))
        body = chat(client, session_id, "hi").json()
    assert body["reply"]["cost"] == {"usd": None, "status": "unknown", "tariff": None}
    assert body["session"]["unpriced_replies"] == 1
    assert body["session"]["total_cost_usd"] == "0.00"


def test_a_reply_without_reported_usage_is_priced_from_estimated_tokens(
    api: TestClient, provider: FakeProvider, session_id: str, store: ChatStore
) -> None:
    store.set_session_model(session_id, model="house-model")  # no known tokenizer: the estimate applies
    provider.script(Reply(chunks=["12345678"], usage_placement="none"))
    reply = chat(api, session_id, "abcd").json()["reply"]
    # Estimate: prompt ceil(4 / 4) + 3 framing + 3 reply priming = 7; completion ceil(8 / 4) = 2.
    assert (reply["usage"]["prompt_tokens"], reply["usage"]["completion_tokens"]) == (7, 2)
    assert reply["usage"]["estimated"] is True
    # 7 * 0.25 + 2 * 2.00 = 5.75 per 1M tokens
    assert reply["cost"]["usd"] == "0.00000575"
    assert reply["cost"]["status"] == "estimated"


@pytest.mark.parametrize(
    "text",
    ['He said "hi"\n', "naïve — 日本語 🎉", "back\\slash\ttab", "</script>", "\x01\x1f\x7f", "line\u2028sep", ""],
)
def test_a_delta_event_is_its_schema_serialized_by_pydantic(text: str) -> None:
    # delta_event skips the model for speed; what it writes must not differ by a byte.
    assert delta_event(text) == f"event: delta\ndata: {DeltaOut(text=text).model_dump_json()}\n\n".encode()


def test_stream_sends_deltas_then_a_usage_event_with_the_saved_reply(
    api: TestClient, provider: FakeProvider, session_id: str, store: ChatStore
) -> None:
    provider.script(Reply(chunks=["Hel", "lo", "!"], prompt_tokens=10, completion_tokens=3))
    response = chat(api, session_id, "hello", stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    assert events[:3] == [("delta", {"text": "Hel"}), ("delta", {"text": "lo"}), ("delta", {"text": "!"})]
    assert [name for name, _ in events] == ["delta", "delta", "delta", "usage"]
    usage = events[3][1]
    assert usage["reply"]["content"] == "Hello!"
    # 10 * 0.25 + 3 * 2.00 = 8.5 per 1M tokens
    assert usage["reply"]["cost"]["usd"] == "0.0000085"
    assert usage["session"]["total_cost_usd"] == "0.0000085"
    assert usage["reply"]["id"] == store.list_messages(session_id)[-1].id


def test_stream_refused_before_the_first_token_gets_its_status_code(
    api: TestClient, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Failure(429, error_body("Rate limit reached")))
    response = chat(api, session_id, "hello", stream=True)
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == "rate_limited"


def test_stream_error_mid_reply_is_an_error_event_and_the_partial_reply_is_kept(
    api: TestClient, provider: FakeProvider, session_id: str, store: ChatStore
) -> None:
    provider.script(Reply(chunks=["Part", "ial"], error_after_chunks={"message": "overloaded", "type": "server_error"}))
    events = sse_events(chat(api, session_id, "hello", stream=True))
    assert [name for name, _ in events] == ["delta", "delta", "usage", "error"]
    assert events[2][1]["reply"]["content"] == "Partial"
    assert events[2][1]["reply"]["complete"] is False
    assert events[3][1] == {
        "detail": "The AI provider stopped with an error. The provider said: overloaded",
        "code": "provider_error",
        "status": 502,
    }
    saved = store.list_messages(session_id)[-1]
    assert (saved.role, saved.content, saved.complete) == ("assistant", "Partial", False)


def test_json_chat_error_mid_reply_carries_the_saved_partial_reply_and_its_cost(
    api: TestClient, provider: FakeProvider, session_id: str
) -> None:
    # The caller of a JSON chat sees no deltas: the part that arrived, saved and billed, must
    # come with the error, or the session's total would grow by an amount nobody was told.
    provider.script(Reply(chunks=["Part", "ial"], error_after_chunks={"message": "overloaded", "type": "server_error"}))
    response = chat(api, session_id, "hello")
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "provider_error"
    assert body["detail"] == "The AI provider stopped with an error. The provider said: overloaded"
    partial = body["partial_reply"]
    assert (partial["role"], partial["content"], partial["complete"]) == ("assistant", "Partial", False)
    assert partial["cost"]["status"] == "estimated"
    history = api.get(f"/sessions/{session_id}/history").json()
    assert history["messages"][-1] == partial
    assert history["total_cost_usd"] == partial["cost"]["usd"]
    # As documented: the 502 of this operation may be a ProviderErrorOut, and this one is.
    responses = api.get("/openapi.json").json()["paths"]["/sessions/{session_id}/chat"]["post"]["responses"]
    assert {"$ref": "#/components/schemas/ProviderErrorOut"} in responses["502"]["content"]["application/json"][
        "schema"
    ]["anyOf"]
    ProviderErrorOut.model_validate(body)


@pytest.mark.parametrize(
    "before_any_text",
    [
        Reply(chunks=[], error_after_chunks={"message": "overloaded", "type": "server_error"}),
        Raw(200, b"<html>Maintenance</html>", "text/html"),
    ],
    ids=["error-event", "web-page"],
)
def test_stream_failing_before_any_text_gets_its_status_code_not_200(
    api: TestClient, provider: FakeProvider, session_id: str, store: ChatStore, before_any_text: Reply | Raw
) -> None:
    provider.script(before_any_text)
    response = chat(api, session_id, "hello", stream=True)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == "provider_error"
    # The message stays, unanswered, ready to be retried as it is.
    assert [(m.role, m.content) for m in store.list_messages(session_id)] == [("user", "hello")]
    retried = api.post(f"/sessions/{session_id}/retry", json={"stream": True})
    assert [name for name, _ in sse_events(retried)][-1] == "usage"


def test_history_has_the_messages_with_tokens_cost_and_the_session_total(
    api: TestClient, provider: FakeProvider, session_id: str
) -> None:
    provider.script(
        Reply(chunks=["one"], prompt_tokens=10, completion_tokens=3),
        Reply(chunks=["two"], prompt_tokens=20, cached_tokens=10, completion_tokens=5),
    )
    chat(api, session_id, "first")
    chat(api, session_id, "second")
    body = api.get(f"/sessions/{session_id}/history").json()
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "first"),
        ("assistant", "one"),
        ("user", "second"),
        ("assistant", "two"),
    ]
    assert [m["usage"] for m in body["messages"][::2]] == [None, None]
    assert [m["cost"] for m in body["messages"][::2]] == [None, None]
    # 10 * 0.25 + 3 * 2.00 = 8.5 per 1M; 10 * 0.25 + 10 * 0.025 + 5 * 2.00 = 12.75 per 1M
    assert [m["cost"]["usd"] for m in body["messages"][1::2]] == ["0.0000085", "0.00001275"]
    # 8.5 + 12.75 = 21.25 per 1M
    assert body["total_cost_usd"] == "0.00002125"
    assert body["session"]["usage"] == {"prompt_tokens": 30, "cached_tokens": 10, "completion_tokens": 8}
    assert body["session"]["message_count"] == 4


def test_history_equals_what_the_chat_page_shows(
    api: TestClient,
    provider: FakeProvider,
    session_id: str,
    store: ChatStore,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider.script(
        Reply(chunks=["From the API"], prompt_tokens=12, completion_tokens=4),
        Reply(chunks=["From the page"], prompt_tokens=30, cached_tokens=8, completion_tokens=6),
    )
    chat(api, session_id, "sent through the API")
    configure_app(monkeypatch, settings)
    page = run_app(session_id=session_id)
    page = page.chat_input[0].set_value("typed on the page").run()
    assert not page.exception

    history = api.get(f"/sessions/{session_id}/history").json()
    page = run_app(session_id=session_id)
    shown = [(m.name, m.markdown[0].value, [c.value for c in m.caption]) for m in page.chat_message]
    # 12 * 0.25 + 4 * 2.00 = 11 per 1M; 22 * 0.25 + 8 * 0.025 + 6 * 2.00 = 17.7 per 1M.
    # Forecasts, in Llama 3 tokens: "sent| through| the| API" 4 + 3 framing + 3 priming = 10 prompt
    # tokens and the default 300-token reply: 10 * 0.25 + 300 * 2.00 = 602.5 per 1M. Then the history
    # (7, and "From| the| API" 3 + 3 = 6), "typed| on| the| page" 4 + 3 = 7 and 3 priming = 23 prompt
    # tokens, and a reply as long as the first (4): 23 * 0.25 + 4 * 2.00 = 13.75 per 1M.
    assert shown == [
        ("user", "sent through the API", []),
        ("assistant", "From the API", [r"12 in · 0 cached · 4 out · \$0.000011 · forecast \$0.0006025"]),
        ("user", "typed on the page", []),
        ("assistant", "From the page", [r"30 in · 8 cached · 6 out · \$0.0000177 · forecast \$0.00001375"]),
    ]
    assert [(m["role"], m["content"]) for m in history["messages"]] == [(role, text) for role, text, _ in shown]
    replies = history["messages"][1::2]
    assert [
        (r["usage"]["prompt_tokens"], r["usage"]["cached_tokens"], r["usage"]["completion_tokens"]) for r in replies
    ] == [
        (12, 0, 4),
        (30, 8, 6),
    ]
    assert [r["cost"]["usd"] for r in replies] == ["0.000011", "0.0000177"]
    # The same records the page reads.
    assert [m["id"] for m in history["messages"]] == [m.id for m in store.list_messages(session_id)]
    assert history["total_cost_usd"] == "0.0000287"


def test_reset_deletes_the_messages_and_keeps_the_session(
    api: TestClient, provider: FakeProvider, session_id: str
) -> None:
    chat(api, session_id, "hello")
    response = api.post(f"/sessions/{session_id}/reset")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["message_count"], body["total_cost_usd"]) == (session_id, 0, "0.00")
    assert api.get(f"/sessions/{session_id}/history").json()["messages"] == []
    # The session goes on under the same id, and the model sees only what came after the reset.
    assert chat(api, session_id, "again").status_code == 200
    assert provider.chat_requests()[-1].body["messages"] == [{"role": "user", "content": "again"}]


def test_delete_removes_the_session_and_its_history(
    api: TestClient, provider: FakeProvider, session_id: str, store: ChatStore
) -> None:
    chat(api, session_id, "hello")
    response = api.delete(f"/sessions/{session_id}")
    assert (response.status_code, response.content) == (204, b"")
    assert api.get(f"/sessions/{session_id}/history").status_code == 404
    assert store.list_messages(session_id) == []
    assert api.delete(f"/sessions/{session_id}").status_code == 404


def test_list_sessions_shows_totals_most_recently_active_first(api: TestClient, provider: FakeProvider) -> None:
    older = api.post("/sessions").json()["id"]
    newer = api.post("/sessions").json()["id"]
    provider.script(Reply(chunks=["ok"], prompt_tokens=4, completion_tokens=2))
    chat(api, older, "bump")  # now the most recently active
    body = api.get("/sessions").json()
    assert [s["id"] for s in body["sessions"]] == [older, newer]
    assert (body["total"], body["limit"], body["offset"]) == (2, 50, 0)
    # 4 * 0.25 + 2 * 2.00 = 5 per 1M tokens
    assert [s["total_cost_usd"] for s in body["sessions"]] == ["0.000005", "0.00"]
    page = api.get("/sessions", params={"limit": 1, "offset": 1}).json()
    assert ([s["id"] for s in page["sessions"]], page["total"]) == ([newer], 2)


def test_health_answers_probes_with_their_own_query_and_head_requests(api: TestClient) -> None:
    assert api.get("/health", params={"nocache": "1712345678"}).json() == {"status": "ok"}
    assert api.head("/health").status_code == 200


def test_create_session_refuses_fields_it_would_ignore(api: TestClient) -> None:
    assert api.post("/sessions").status_code == 201
    assert api.post("/sessions", json={}).status_code == 201
    refused = api.post("/sessions", json={"title": "Budget talk"})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "title", "message": "unknown field"}]


@pytest.mark.parametrize("field", ["stream", "confirm_over_budget"])
@pytest.mark.parametrize("value", ["yes", 1, "true"])
def test_chat_flags_must_be_json_booleans(api: TestClient, session_id: str, field: str, value: object) -> None:
    response = chat(api, session_id, "hello", **{field: value})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_the_openapi_schema_documents_every_endpoint_with_examples(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    assert {(method.upper(), path) for path, item in schema["paths"].items() for method in item} == {
        ("GET", "/health"),
        ("GET", "/new_session"),
        ("POST", "/sessions"),
        ("GET", "/sessions"),
        ("POST", "/sessions/{session_id}/chat"),
        ("POST", "/sessions/{session_id}/retry"),
        ("GET", "/sessions/{session_id}/history"),
        ("POST", "/sessions/{session_id}/reset"),
        ("DELETE", "/sessions/{session_id}"),
    }
    components = schema["components"]["schemas"]
    for name in ("ChatRequest", "ChatOut", "HistoryOut", "SessionOut", "MessageOut", "ErrorOut", "CostOut"):
        assert name in components
    assert components["ChatRequest"]["additionalProperties"] is False
    assert components["ChatRequest"]["examples"][0]["message"]
    assert "text/event-stream" in schema["paths"]["/sessions/{session_id}/chat"]["post"]["responses"]["200"]["content"]
    assert "Swagger UI" in api.get("/docs").text


def test_every_schema_in_the_docs_has_examples_that_are_valid(api: TestClient) -> None:
    from pydantic import BaseModel

    from smallchat import api_schemas

    components = api.get("/openapi.json").json()["components"]["schemas"]
    checked = []
    for name in components:
        model = getattr(api_schemas, name, None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            examples = components[name].get("examples")
            assert examples, name
            for example in examples:
                model.model_validate(example)
            checked.append(name)
    assert set(components) == set(checked)


# Refused requests --------------------------------------------------------------------------


SESSION_ENDPOINTS = [
    ("POST", "/sessions/{id}/chat"),
    ("GET", "/sessions/{id}/history"),
    ("POST", "/sessions/{id}/reset"),
    ("DELETE", "/sessions/{id}"),
]


@pytest.mark.parametrize(("method", "path"), SESSION_ENDPOINTS)
def test_an_unknown_session_is_404_with_the_chat_pages_words(api: TestClient, method: str, path: str) -> None:
    response = api.request(method, path.format(id=UNKNOWN_SESSION), json={"message": "hello"})
    assert response.status_code == 404
    assert response.json() == {"detail": NOT_FOUND_TEXT, "code": "session_not_found"}


@pytest.mark.parametrize(("method", "path"), SESSION_ENDPOINTS)
def test_a_malformed_session_id_is_422(api: TestClient, provider: FakeProvider, method: str, path: str) -> None:
    response = api.request(method, path.format(id="not-a-uuid"), json={"message": "hello"})
    assert response.status_code == 422
    assert response.json() == {"detail": NOT_A_UUID_TEXT, "code": "invalid_input", "errors": []}
    assert provider.chat_requests() == []


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        ("", "The message is empty. Type something to send."),
        ("  \n\t ", "The message is empty. Type something to send."),
        ("x" * 11, "The message is too long: 11 characters, the limit is 10 (MAX_MESSAGE_CHARS)."),
    ],
)
def test_empty_blank_and_oversize_messages_are_422_and_nothing_is_saved(
    settings: Settings, provider: FakeProvider, store: ChatStore, message: str, detail: str
) -> None:
    with TestClient(create_app(with_settings(settings, max_message_chars=10))) as client:
        session_id = client.post("/sessions").json()["id"]
        response = chat(client, session_id, message)
    assert response.status_code == 422
    assert response.json() == {"detail": detail, "code": "invalid_input", "errors": []}
    assert store.list_messages(session_id) == []
    assert provider.chat_requests() == []


@pytest.mark.parametrize(
    ("request_kwargs", "errors"),
    [
        ({"json": {"message": "hi", "colour": "blue"}}, [{"field": "colour", "message": "unknown field"}]),
        ({"json": {"stream": True}}, [{"field": "message", "message": "required"}]),
        ({"json": {"message": 42}}, [{"field": "message", "message": "Input should be a valid string"}]),
        (
            {"json": {"message": "hi", "stream": "sometimes"}},
            [{"field": "stream", "message": "Input should be a valid boolean"}],
        ),
        (
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            [{"field": "body", "message": "the body is not valid JSON"}],
        ),
        pytest.param(
            {"content": b'{"message": "\xff"}', "headers": {"content-type": "application/json"}},
            [{"field": "body", "message": "the body could not be read as JSON (not UTF-8, or nested too deeply)"}],
            id="not-utf-8",
        ),
        pytest.param(
            {
                "content": b'{"message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                "headers": {"content-type": "application/json"},
            },
            [{"field": "body", "message": "the body could not be read as JSON (not UTF-8, or nested too deeply)"}],
            id="nested-too-deeply",
        ),
        ({"json": {"message": "hi"}, "params": {"strem": "1"}}, [{"field": "strem", "message": "unknown parameter"}]),
        pytest.param(
            {"content": b"message=hi", "headers": {"content-type": "application/x-www-form-urlencoded"}},
            [{"field": "body", "message": "the body must be a JSON object, sent with Content-Type: application/json"}],
            id="a-form",
        ),
        pytest.param(
            {"json": ["hi"]},
            [{"field": "body", "message": "the body must be a JSON object, sent with Content-Type: application/json"}],
            id="a-json-list",
        ),
    ],
)
def test_malformed_requests_are_422_naming_what_is_wrong(
    api: TestClient,
    provider: FakeProvider,
    session_id: str,
    request_kwargs: dict[str, Any],
    errors: list[dict[str, str]],
) -> None:
    response = api.post(f"/sessions/{session_id}/chat", **request_kwargs)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["errors"] == errors
    assert body["detail"].startswith("The request is not valid: ")
    assert provider.chat_requests() == []


JSON = {"content-type": "application/json"}


def test_a_body_larger_than_the_longest_message_needs_is_413_before_it_is_read(
    settings: Settings, store: ChatStore, provider: FakeProvider
) -> None:
    # 10 characters at most: 10 x 12 bytes (each an escaped surrogate pair) + 16,384 = 16,504 bytes.
    limit_words = "The request body is too large: the limit is 16,504 bytes (room for a message of MAX_MESSAGE_CHARS)."
    with TestClient(create_app(with_settings(settings, max_message_chars=10))) as client:
        session_id = client.post("/sessions").json()["id"]
        oversize = json.dumps({"message": "x" * 16_500}).encode()  # 16,515 bytes
        declared = client.post(f"/sessions/{session_id}/chat", content=oversize, headers=JSON)
        # Sent in pieces without a Content-Length: counted as it arrives.
        pieces = iter([oversize[:8000], oversize[8000:]])
        undeclared = client.post(f"/sessions/{session_id}/chat", content=pieces, headers=JSON)
        # The longest allowed message in the longest form still fits.
        longest = json.dumps({"message": "\U0001f600" * 10, "stream": False, "confirm_over_budget": False})
        accepted = client.post(f"/sessions/{session_id}/chat", content=longest.encode(), headers=JSON)
    for response in (declared, undeclared):
        assert response.status_code == 413
        assert response.json() == {"detail": limit_words, "code": "body_too_large"}
    assert accepted.status_code == 200, accepted.text
    assert [m.role for m in store.list_messages(session_id)] == ["user", "assistant"]
    assert len(provider.chat_requests()) == 1


def test_a_malformed_request_does_not_echo_the_input(api: TestClient, session_id: str) -> None:
    response = api.post(f"/sessions/{session_id}/chat", json={"message": "hi", "secret_" * 3: "x" * 5000})
    assert response.status_code == 422
    assert "x" * 100 not in response.text


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "ten"}])
def test_list_sessions_refuses_out_of_range_paging(api: TestClient, params: dict[str, Any]) -> None:
    response = api.get("/sessions", params=params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == next(iter(params))


# Provider errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "code", "detail"),
    [
        (
            Failure(401, error_body("Invalid API Key")),
            401,
            "invalid_api_key",
            "The AI provider rejected the API key (401). Check AI_API_KEY, or enter another key. "
            "The provider said: Invalid API Key",
        ),
        (
            Failure(403, error_body("not for you")),
            403,
            "permission_denied",
            "The API key is not allowed to use this model or endpoint (403). The provider said: not for you",
        ),
        (
            Failure(413, error_body("too big")),
            413,
            "request_too_large",
            "The request is too large for the AI provider (413). Send a shorter message or start a new chat. "
            "The provider said: too big",
        ),
        (
            Failure(400, error_body("too many tokens", code="context_length_exceeded")),
            413,
            "context_too_long",
            "This conversation is now too long for the model's context window. Start a new chat, or reset "
            "this one, to continue.",
        ),
        (
            Failure(429, error_body("Rate limit reached")),
            429,
            "rate_limited",
            "The AI provider is rate limiting requests (429). Wait a moment, then retry. "
            "The provider said: Rate limit reached",
        ),
        (
            Failure(400, error_body("temperature is out of range")),
            502,
            "provider_error",
            "The AI provider refused the request (400). The provider said: temperature is out of range",
        ),
        (
            Failure(500, error_body("internal error")),
            503,
            "provider_unavailable",
            "The AI provider had a server error (500). Try again in a moment. The provider said: internal error",
        ),
        (
            Failure(502, "Bad gateway"),
            503,
            "provider_unavailable",
            "The AI provider had a server error (502). Try again in a moment.",
        ),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_provider_errors_map_to_status_codes_with_the_chat_pages_words(
    api: TestClient,
    provider: FakeProvider,
    session_id: str,
    store: ChatStore,
    failure: Failure,
    status: int,
    code: str,
    detail: str,
    stream: bool,
) -> None:
    provider.script(failure)
    response = chat(api, session_id, "hello", stream=stream)
    assert response.status_code == status
    assert response.json() == {"detail": detail, "code": code}
    # As on the chat page, the message is kept, ready to be sent again.
    assert [(m.role, m.content) for m in store.list_messages(session_id)] == [("user", "hello")]


def test_a_rate_limit_passes_on_the_wait_the_provider_asked_for(
    api: TestClient, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Failure(429, error_body("Rate limit reached"), headers={"retry-after-ms": "2500"}))
    response = chat(api, session_id, "hello")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"  # 2.5 s, in the header's whole seconds, rounded up
    assert response.json()["detail"].startswith(
        "The AI provider is rate limiting requests (429). It asks to wait 3 seconds"
    )
    provider.script(Failure(429, error_body("Rate limit reached")))
    assert "retry-after" not in chat(api, session_id, "hello").headers  # nothing asked, nothing promised


def test_an_unknown_model_is_404_model_not_found(api: TestClient, provider: FakeProvider, session_id: str) -> None:
    provider.script(Failure(404, error_body("The model does not exist")))
    response = chat(api, session_id, "hello")
    assert response.status_code == 404
    assert response.json() == {
        "detail": f"The model llama-3.3-70b-versatile was not found at {provider.base_url} (404). "
        "Check AI_MODEL_NAME. The provider said: The model does not exist",
        "code": "model_not_found",
    }


def test_a_provider_that_never_answers_is_504(settings: Settings, provider: FakeProvider) -> None:
    provider.script(Hang(seconds=2))
    with TestClient(create_app(with_settings(settings, request_timeout_seconds=0.5))) as client:
        session_id = client.post("/sessions").json()["id"]
        response = chat(client, session_id, "hello")
    assert response.status_code == 504
    assert response.json() == {
        "detail": "The AI provider did not answer in time. Try again; if it keeps happening, raise AI_TIMEOUT_SECONDS.",
        "code": "provider_timeout",
    }


def test_a_provider_that_cannot_be_reached_is_503(settings: Settings) -> None:
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused at once.
    with TestClient(create_app(with_settings(settings, base_url="http://127.0.0.1:9/v1"))) as client:
        session_id = client.post("/sessions").json()["id"]
        response = chat(client, session_id, "hello")
    assert response.status_code == 503
    assert response.json() == {
        "detail": "Could not connect to the AI provider at http://127.0.0.1:9/v1. Check AI_BASE_URL and your "
        "network, then try again.",
        "code": "provider_unreachable",
    }


def test_no_api_key_configured_is_401_and_the_message_is_not_saved(settings: Settings, store: ChatStore) -> None:
    hosted = with_settings(settings, api_key="", base_url="https://api.groq.com/openai/v1")
    with TestClient(create_app(hosted)) as client:
        session_id = client.post("/sessions").json()["id"]
        response = chat(client, session_id, "hello")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("No API key is configured. Set AI_API_KEY")
    assert store.list_messages(session_id) == []


def test_the_api_key_never_appears_in_an_error(api: TestClient, provider: FakeProvider, session_id: str) -> None:
    provider.script(Failure(401, error_body(f"Incorrect API key provided: {TEST_API_KEY}")))
    response = chat(api, session_id, "hello")
    assert response.status_code == 401
    assert TEST_API_KEY not in response.text
    assert "[redacted]" in response.json()["detail"]


def test_provider_errors_read_the_same_as_on_the_chat_page(
    api: TestClient, provider: FakeProvider, session_id: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider.script(Failure(429, error_body("Rate limit reached")), Failure(429, error_body("Rate limit reached")))
    api_detail = chat(api, session_id, "hello").json()["detail"]
    configure_app(monkeypatch, settings)
    page = run_app().chat_input[0].set_value("hello").run()
    # The page writes it as Markdown with its punctuation escaped; the words are the same.
    assert [re.sub(r"\\(.)", r"\1", error.value) for error in page.error] == [api_detail]


def test_an_unexpected_failure_is_a_generic_500_without_internals(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        store = app.state.resources.store

        def broken(**kwargs: Any) -> None:
            raise RuntimeError("secret internals at /srv/smallchat/db.py line 42")

        store.list_sessions = broken
        response = client.get("/sessions")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Something went wrong on the server. The error was logged; try again.",
        "code": "internal_error",
    }
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


# Bearer token ------------------------------------------------------------------------------


ALL_ENDPOINTS = [
    ("GET", "/new_session"),
    ("POST", "/sessions"),
    ("GET", "/sessions"),
    *[(method, path.format(id=UNKNOWN_SESSION)) for method, path in SESSION_ENDPOINTS],
]


@pytest.fixture
def locked_api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(with_settings(settings, api_token="s3cret-token"))) as client:
        yield client


@pytest.mark.parametrize(("method", "path"), ALL_ENDPOINTS)
@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "This API needs a token: send 'Authorization: Bearer <API_TOKEN>'."),
        ("Bearer wrong-token", "The API token is not valid."),
        ("Bearer s3cret-token-and-more", "The API token is not valid."),
        ("Basic czNjcmV0LXRva2Vu", "This API needs a token: send 'Authorization: Bearer <API_TOKEN>'."),
        # Not ASCII (sent as Latin-1, as HTTP allows): refused, not a crash in the comparison.
        ("Bearer s3cr\u00e9t".encode("latin-1"), "The API token is not valid."),
    ],
)
def test_with_a_token_set_every_endpoint_refuses_a_missing_or_wrong_token(
    locked_api: TestClient, method: str, path: str, authorization: str | bytes | None, detail: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = locked_api.request(method, path, headers=headers, json={"message": "hi"}, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json() == {"detail": detail, "code": "unauthorized"}


def test_with_the_right_token_every_endpoint_answers(locked_api: TestClient, provider: FakeProvider) -> None:
    auth = {"Authorization": "Bearer s3cret-token"}
    assert locked_api.get("/new_session", headers=auth, follow_redirects=False).status_code == 307
    session_id = locked_api.post("/sessions", headers=auth).json()["id"]
    assert locked_api.get("/sessions", headers=auth).json()["total"] == 2
    assert locked_api.post(f"/sessions/{session_id}/chat", headers=auth, json={"message": "hi"}).status_code == 200
    assert locked_api.get(f"/sessions/{session_id}/history", headers=auth).status_code == 200
    assert locked_api.post(f"/sessions/{session_id}/reset", headers=auth).status_code == 200
    assert locked_api.delete(f"/sessions/{session_id}", headers=auth).status_code == 204


def test_a_token_beyond_ascii_is_accepted_as_clients_send_it_in_utf8(settings: Settings) -> None:
    with TestClient(create_app(with_settings(settings, api_token="t\u00f6k\u20acn"))) as client:
        assert client.post("/sessions", headers={"Authorization": "Bearer t\u00f6k\u20acn".encode()}).status_code == 201
        # The same characters in another encoding are other bytes: not the token.
        assert client.post("/sessions", headers={"Authorization": b"Bearer t\xf6k"}).status_code == 401


def test_with_a_token_set_the_docs_stay_open_as_they_hold_no_data(locked_api: TestClient) -> None:
    assert locked_api.get("/docs").status_code == 200
    assert locked_api.get("/openapi.json").json()["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_without_a_token_set_the_api_is_open(api: TestClient) -> None:
    assert api.post("/sessions").status_code == 201
    assert api.get("/sessions", headers={"Authorization": "Bearer anything"}).status_code == 200


# Start-up ----------------------------------------------------------------------------------


def test_importing_the_module_reads_no_settings_and_opens_no_database(tmp_path: Path) -> None:
    database = tmp_path / "never.db"
    # A setting that would stop the server: importing must not even read it.
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "AI_PRICING": "cheap"}
    result = subprocess.run(
        [sys.executable, "-c", "import smallchat.api as api; print(type(api.app).__name__)"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "FastAPI"), result.stderr
    assert not database.exists()


def test_a_bad_setting_stops_the_server_at_startup_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_PRICING", "cheap")
    app = create_app()  # settings are read at startup, not here
    with pytest.raises(ConfigError, match="AI_PRICING"), TestClient(app):
        pass


def test_uvicorn_stopped_by_a_bad_setting_prints_the_reason_and_no_traceback(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "AI_PRICING": "cheap"}
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "smallchat.api:app", "--port", "0"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SmallChat cannot start: AI_PRICING must be one of default, list, custom; got 'cheap'." in result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_an_unusable_database_stops_the_server_at_startup_saying_why(settings: Settings, tmp_path: Path) -> None:
    missing_folder = tmp_path / "no-such-folder" / "chat.db"
    app = create_app(with_settings(settings, database_url=f"sqlite:///{missing_folder}"))
    with pytest.raises(StorageError, match="The folder for the database does not exist"), TestClient(app):
        pass


def test_what_startup_loaded_is_kept_from_the_collector_while_serving_and_released_at_stop(
    settings: Settings,
) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_settings_come_from_the_environment_when_none_are_given(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, provider: FakeProvider
) -> None:
    configure_app(monkeypatch, settings)
    monkeypatch.setenv("UI_URL", "http://ui.example")
    with TestClient(create_app()) as client:
        response = client.get("/new_session", follow_redirects=False)
        session_id = response.headers["location"].removeprefix("http://ui.example/?session=")
        assert chat(client, session_id, "hello").json()["reply"]["content"] == "Echo: hello"


def streamlit_secrets(folder: Path, text: str) -> None:
    (folder / ".streamlit").mkdir(parents=True)
    (folder / ".streamlit" / "secrets.toml").write_text(text, encoding="utf-8")


def test_the_api_reads_streamlit_secrets_like_the_chat_page_the_project_file_first(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path
) -> None:
    configure_app(monkeypatch, settings)
    monkeypatch.delenv("API_TOKEN", raising=False)
    monkeypatch.delenv("UI_URL", raising=False)
    home, project = tmp_path / "home", tmp_path / "project"
    streamlit_secrets(home, 'API_TOKEN = "token-from-home"\nUI_URL = "http://ui.example"\n')
    streamlit_secrets(project, 'API_TOKEN = "token-from-project"\n[connections]\nignored = 1\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(project)
    with TestClient(create_app()) as client:
        assert client.post("/sessions").status_code == 401
        assert client.post("/sessions", headers={"Authorization": "Bearer token-from-home"}).status_code == 401
        allowed = {"Authorization": "Bearer token-from-project"}
        response = client.get("/new_session", headers=allowed, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].startswith("http://ui.example/?session=")


def test_a_secrets_file_that_does_not_parse_stops_the_api_at_startup_naming_it(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path
) -> None:
    configure_app(monkeypatch, settings)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    streamlit_secrets(tmp_path, 'API_TOKEN = "unterminated\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"\.streamlit/secrets\.toml is not valid TOML"), TestClient(create_app()):
        pass


def test_a_message_over_budget_is_refused_with_the_numbers_until_confirmed(
    api: TestClient, provider: FakeProvider, session_id: str, store: ChatStore
) -> None:

    store.set_session_model(session_id, model="house-model")
    # The forecast for "abcd": ceil(4 / 4) + 3 + 3 = 7 prompt tokens and the default 300-token
    # reply: 7 * 0.25 + 300 * 2.00 = 601.75 per 1M tokens, $0.00060175, over a $0.0006 budget.
    set_budget(store, scope="session", session=store.get_session(session_id), limit=Decimal("0.0006"))
    refused = chat(api, session_id, "abcd")
    assert refused.status_code == 402
    assert refused.json()["code"] == "budget_exceeded"
    assert "$0.0006018" in refused.json()["detail"] and "$0.0006" in refused.json()["detail"]
    assert store.list_messages(session_id) == []

    sent = api.post(f"/sessions/{session_id}/chat", json={"message": "abcd", "confirm_over_budget": True})
    assert sent.status_code == 200
    assert sent.json()["reply"]["content"] == "Echo: abcd"


def test_retry_sends_the_unanswered_message_again_without_saving_it_twice(
    api: TestClient, provider: FakeProvider, session_id: str, store: ChatStore
) -> None:
    provider.script(Failure(503, error_body("overloaded")), Failure(503, error_body("overloaded")))
    assert chat(api, session_id, "hello").status_code == 503
    assert api.post(f"/sessions/{session_id}/retry").status_code == 503
    retried = api.post(f"/sessions/{session_id}/retry", json={"stream": False})
    assert retried.status_code == 200
    assert retried.json()["reply"]["content"] == "Echo: hello"
    assert [(m.role, m.content) for m in store.list_messages(session_id)] == [
        ("user", "hello"),
        ("assistant", "Echo: hello"),
    ]
    nothing_left = api.post(f"/sessions/{session_id}/retry")
    assert nothing_left.status_code == 422
    assert nothing_left.json()["detail"] == "There is no unanswered message to retry."
