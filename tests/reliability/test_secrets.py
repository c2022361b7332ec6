"""Catalogue: the API key never appears in the database, the logs, the page or the shipped config."""

from __future__ import annotations

import logging
import tomllib
from dataclasses import replace
from pathlib import Path

import openai
import pytest

from smallchat import errors
from smallchat.chat import send_message
from smallchat.config import Settings
from smallchat.llm import make_client
from smallchat.repository import ChatStore
from tests.apptest_helpers import ROOT, configure_app, run_app
from tests.conftest import TEST_API_KEY
from tests.fake_provider import Failure, FakeProvider, Reply, error_body
from tests.reliability.conftest import assert_key_absent_from_database, converse_with_the_key_echoed, stored

# Another provider's key, shaped like one: echoed text may carry keys we were never given.
OTHER_KEY = "gsk_another0123456789abcdefXYZ"
LOGGERS = ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "smallchat", "streamlit")


def page_text(app) -> str:
    """Everything the page holds: every element's protobuf, with values, labels and tooltips."""
    return "\n".join(str(node.proto) for node in app if getattr(node, "proto", None) is not None)


def test_key_is_absent_from_the_database_after_replies_and_errors_that_echo_it(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    converse_with_the_key_echoed(store, client, settings, provider, session_id)
    assert stored(store, session_id)[1] == ("assistant", "Echoing your header: Bearer [redacted]")
    assert_key_absent_from_database(settings)


def test_key_is_absent_from_debug_logs_of_the_sdk_and_http_clients(
    store: ChatStore, provider: FakeProvider, settings: Settings, session_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    retrying = replace(settings, max_retries=1)
    provider.script(
        Failure(500, error_body(f"bad key {TEST_API_KEY}"), headers={"retry-after": "0"}),
        Failure(401, error_body(f"Incorrect API key provided: {TEST_API_KEY}")),
    )
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    with pytest.raises(errors.InvalidApiKey):
        send_message(store, make_client(retrying), retrying, session_id=session_id, text="hello")
    assert len(provider.chat_requests()) == 2  # the retry ran, so its log lines are in too
    assert any(record.name.startswith(("openai", "httpx")) for record in caplog.records)  # logging was on
    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    assert TEST_API_KEY not in logged
    assert "Bearer" not in logged


def test_key_is_absent_from_the_page_after_a_401_that_echoes_it(
    provider: FakeProvider, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    configure_app(monkeypatch, settings)
    provider.script(Failure(401, error_body(f"Incorrect API key {TEST_API_KEY}; also tried {OTHER_KEY}")))
    app = run_app().chat_input[0].set_value("hello").run()
    assert not app.exception
    assert "rejected the API key" in app.error[0].value  # the error is on the page being searched
    app = app.run()  # and after a rerun, where the reason comes back from session state
    text = page_text(app)
    assert "rejected the API key" in text
    assert TEST_API_KEY not in text
    assert OTHER_KEY not in text
    assert all(TEST_API_KEY not in repr(app.session_state[name]) for name in app.session_state)


def test_key_is_absent_from_every_file_the_app_writes(
    provider: FakeProvider, monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path
) -> None:
    configure_app(monkeypatch, settings)  # the app's folder is tmp_path: the database is there too
    provider.script(Reply(chunks=[TEST_API_KEY[:5], TEST_API_KEY[5:]]), Failure(401, error_body(TEST_API_KEY)))
    app = run_app().chat_input[0].set_value("one").run()
    app.chat_input[0].set_value("two").run()
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.name == "chat.db" for path in written)
    for path in written:
        assert TEST_API_KEY.encode() not in path.read_bytes(), path


def test_settings_never_print_the_key() -> None:
    settings = Settings(api_key=TEST_API_KEY, api_token="api-token-secret")
    assert TEST_API_KEY not in repr(settings)
    assert "api-token-secret" not in repr(settings)


def test_streamlit_error_details_are_off_in_the_shipped_config() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    # "none": an exception shows a generic line, never the traceback or its message.
    assert config["client"]["showErrorDetails"] == "none"
