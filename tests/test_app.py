"""The chat page under Streamlit's AppTest, against the fake provider and a temp database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.proto.TextInput_pb2 import TextInput as TextInputProto

from smallchat.config import Settings
from smallchat.repository import ChatStore
from tests.apptest_helpers import APP, ROOT, configure_app, run_app, shown
from tests.fake_provider import Failure, FakeProvider, Reply, error_body


@pytest.fixture(autouse=True)
def _app_environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    configure_app(monkeypatch, settings)


def chat_log(app) -> list[tuple[str, str]]:
    return [(message.name, message.markdown[0].value) for message in app.chat_message if message.markdown]


def send(app, text: str):
    return app.chat_input[0].set_value(text).run()


def test_a_message_streams_a_reply_with_tokens_and_cost(provider: FakeProvider) -> None:
    provider.script(
        Reply(chunks=["Costs ", "$5 ", "today"], prompt_tokens=2006, cached_tokens=1920, completion_tokens=300)
    )
    app = send(run_app(), "What does it cost?")
    assert not app.exception
    assert chat_log(app) == [("user", "What does it cost?"), ("assistant", r"Costs \$5 today")]
    caption = app.chat_message[1].caption[0].value
    # GPT-5 mini: 86 * 0.25 + 1920 * 0.025 + 300 * 2.00 = 669.5 per 1M tokens. The forecast:
    # "What| does| it| cost|?" is 5 Llama 3 tokens + 3 framing + 3 priming = 11 prompt tokens,
    # and the default 300-token reply: 11 * 0.25 + 300 * 2.00 = 602.75 per 1M, shown as $0.0006028.
    assert caption == r"2,006 in · 1,920 cached · 300 out · \$0.0006695 · forecast \$0.0006028"
    assert app.sidebar.metric[0].value == "$0.0006695"
    assert app.query_params["session"]


def test_the_session_returns_from_its_link_after_a_restart(
    provider: FakeProvider, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    first = send(run_app(), "Remember me")
    session_id = first.query_params["session"]
    configure_app(monkeypatch, settings)  # a new process: nothing cached survives
    reopened = run_app(session_id=session_id)
    assert not reopened.exception
    assert chat_log(reopened) == [("user", "Remember me"), ("assistant", "Echo: Remember me")]
    # The echo reports 3 prompt tokens (11 characters // 4 + 1) and 3 completion tokens (3 chunks):
    # 3 * 0.25 + 3 * 2.00 = 6.75 per 1M tokens. Forecast: "Remember| me" is 2 tokens + 3 + 3 = 8
    # prompt tokens and a 300-token reply: 8 * 0.25 + 300 * 2.00 = 602 per 1M.
    assert reopened.chat_message[1].caption[0].value == r"3 in · 0 cached · 3 out · \$0.00000675 · forecast \$0.000602"
    assert reopened.sidebar.metric[0].value == "$0.00000675"


def test_new_chat_and_switching_back_through_the_sidebar(provider: FakeProvider, store: ChatStore) -> None:
    app = send(run_app(), "first chat")
    first_id = app.query_params["session"]
    app = app.sidebar.button[0].click().run()  # New chat
    assert "session" not in app.query_params
    app = send(app, "second chat")
    second_id = app.query_params["session"]
    assert second_id != first_id
    app.button(key=f"open-{first_id}").click().run()
    assert app.query_params["session"] == first_id
    assert chat_log(app)[0] == ("user", "first chat")


def test_rename_reset_and_delete(provider: FakeProvider, store: ChatStore) -> None:
    app = send(run_app(), "to be renamed")
    session_id = app.query_params["session"]
    # A form: the title is sent with the Save click (or Enter), in one run.
    app.text_input(key=f"title-{session_id}").set_value("Renamed chat")
    app.button(key="rename-save").click().run()
    assert store.get_session(session_id).title == "Renamed chat"

    app.button(key="reset").click().run()
    app = next(b for b in app.button if b.label == "Reset chat").click().run()
    assert not app.exception
    assert store.list_messages(session_id) == []
    assert store.get_session(session_id).id == session_id
    assert app.query_params["session"] == session_id

    app.button(key="delete").click().run()
    app = next(b for b in app.button if b.label == "Delete chat").click().run()
    assert not app.exception
    assert store.count_sessions() == 0
    assert "session" not in app.query_params


def test_the_title_field_offers_the_stored_title_after_it_changed(provider: FakeProvider, store: ChatStore) -> None:
    app = run_app()
    app = send(app, "my first question")
    session_id = app.query_params["session"]
    # The first message named the chat after the field was first drawn (as "New chat").
    assert app.text_input(key=f"title-{session_id}").value == "my first question"
    store.rename_session(session_id, title="Renamed in another tab")
    app = app.run()
    assert app.text_input(key=f"title-{session_id}").value == "Renamed in another tab"
    app.button(key="rename-save").click().run()  # Enter or Save without an edit: no change
    assert store.get_session(session_id).title == "Renamed in another tab"


def test_retry_sends_the_kept_message_once(provider: FakeProvider, store: ChatStore) -> None:
    provider.script(Failure(503, error_body("overloaded")))
    app = send(run_app(), "hello")
    session_id = app.query_params["session"]
    assert app.button(key="retry").label == "Retry"  # offered at once, under the error
    app = app.run()  # a later rerun still offers the retry, with the reason
    assert "server error (503)" in shown(app.warning[0].value)
    app = app.button(key="retry").click().run()
    assert not app.exception
    assert [(m.role, m.content) for m in store.list_messages(session_id)] == [
        ("user", "hello"),
        ("assistant", "Echo: hello"),
    ]


def test_a_rejected_configured_key_offers_a_field_for_another_one(provider: FakeProvider, store: ChatStore) -> None:
    provider.script(Failure(401, error_body("Incorrect API key provided")))
    app = send(run_app(), "hello")
    assert "Check AI_API_KEY, or enter another key." in shown(app.error[0].value)
    key_field = next(field for field in app.text_input if field.label == "API key for this session")
    key_field.input("sk-another-key-0123456789")
    app = next(b for b in app.button if b.label == "Use this key").click().run()
    assert not app.exception
    # The rejection was about the old key: it is not shown again once another was given.
    assert not any("rejected the API key" in shown(box.value) for box in [*app.error, *app.warning])
    app = app.button(key="retry").click().run()  # the kept message, now with the new key
    headers = {name.lower(): value for name, value in provider.chat_requests()[-1].headers.items()}
    assert headers["authorization"] == "Bearer sk-another-key-0123456789"
    assert [m.role for m in store.list_messages(app.query_params["session"])] == ["user", "assistant"]


def test_missing_key_shows_where_to_set_it_and_takes_one_for_this_session_only(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path
) -> None:
    monkeypatch.delenv("AI_API_KEY")
    monkeypatch.setenv("AI_BASE_URL", "https://api.groq.com/openai/v1")  # hosted: a key is required
    app = run_app()
    assert not app.exception
    assert "AI_API_KEY" in app.info[0].value
    assert app.chat_input[0].disabled
    key_field = app.text_input[0]
    assert key_field.proto.type == TextInputProto.Type.PASSWORD

    session_key = "gsk_typed-in-abcdef123456"
    key_field.input(session_key)
    app = next(b for b in app.button if b.label == "Use this key").click().run()
    assert not app.exception
    assert not app.chat_input[0].disabled
    assert not app.info
    # Held in this browser session's state only: no file under the app's folder contains it.
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert session_key.encode() not in path.read_bytes(), path


def test_a_key_pasted_with_curly_quotes_is_explained_and_another_can_be_given(
    provider: FakeProvider, store: ChatStore
) -> None:
    provider.script(Failure(401, error_body("Incorrect API key provided")))
    app = send(run_app(), "hello")
    key_field = next(field for field in app.text_input if field.label == "API key for this session")
    key_field.input("\u201cgsk_pasted-abcdef123456\u201d")  # as a word processor or chat app quotes it
    app = next(b for b in app.button if b.label == "Use this key").click().run()
    app = app.button(key="retry").click().run()
    assert not app.exception
    assert "contains characters no API key has" in shown(app.error[0].value)
    assert len(provider.chat_requests()) == 1  # only the first, refused one: nothing sent with that key
    key_field = next(field for field in app.text_input if field.label == "API key for this session")
    key_field.input("gsk_pasted-abcdef123456")
    app = next(b for b in app.button if b.label == "Use this key").click().run()
    app = app.button(key="retry").click().run()
    assert not app.exception
    assert [m.role for m in store.list_messages(app.query_params["session"])] == ["user", "assistant"]


def test_a_message_sent_from_a_bad_link_starts_a_chat_and_the_notice_goes(store: ChatStore) -> None:
    app = run_app(session_id="not-a-uuid")
    assert "not valid" in app.warning[0].value
    app = send(app, "hello from a bad link")
    assert not app.exception
    assert not any("not valid" in warning.value for warning in app.warning)
    assert app.subheader[0].value == "hello from a bad link"
    assert store.count_sessions() == 1


# Runs the chat page's first render in a fresh process and prints the name of the thread that
# imported the openai SDK, once the background warm-up has finished.
_FIRST_RENDER_SDK_IMPORTER = """
import sys, threading
from importlib.abc import MetaPathFinder

class RecordFirstImporter(MetaPathFinder):
    thread = None

    def find_spec(self, name, path=None, target=None):
        if name == "openai" and RecordFirstImporter.thread is None:
            RecordFirstImporter.thread = threading.current_thread().name
        return None

sys.meta_path.insert(0, RecordFirstImporter())
from streamlit.testing.v1 import AppTest

app = AppTest.from_file(sys.argv[1], default_timeout=60).run()
assert not app.exception, app.exception
assert app.chat_input and not app.chat_input[0].disabled
for thread in threading.enumerate():
    if thread.name == "smallchat-warm-up":
        thread.join(60)
print(RecordFirstImporter.thread)
"""


def test_the_first_render_leaves_the_provider_sdk_to_the_background_warm_up(tmp_path: Path) -> None:
    # Importing the SDK takes about 0.4 s, more than the rest of the page's start-up: the first
    # render must not wait for it, and the first message must not either.
    result = subprocess.run(
        [sys.executable, "-c", _FIRST_RENDER_SDK_IMPORTER, str(APP)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["smallchat-warm-up"]
