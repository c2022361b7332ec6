"""Catalogue: what a person may type or put in the URL, through the use case and the page (AppTest)."""

from __future__ import annotations

from dataclasses import replace

import openai
import pytest

from smallchat import errors
from smallchat.chat import send_message, start_reply
from smallchat.config import Settings
from smallchat.llm import make_client
from smallchat.repository import ChatStore
from tests.apptest_helpers import configure_app, run_app, shown
from tests.fake_provider import Failure, FakeProvider, Reply, error_body
from tests.reliability.conftest import assert_totals_equal_the_rows, stored

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(autouse=True)
def _app_environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    configure_app(monkeypatch, settings)


def send_in_page(app, text: str):
    return app.chat_input[0].set_value(text).run()


def chat_log(app) -> list[tuple[str, str]]:
    return [(message.name, message.markdown[0].value) for message in app.chat_message if message.markdown]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param("", "The message is empty. Type something to send.", id="empty"),
        pytest.param(" \n\t\u3000 ", "The message is empty. Type something to send.", id="whitespace-only"),
        pytest.param(
            "\u200b\ufeff\u00ad\u200d \n\u3164\u115f\u034f\ufe0f\u2060",
            "The message is empty. Type something to send.",
            id="invisible-characters-only",
        ),
        pytest.param(
            "nul\x00inside",
            r"The message contains a NUL character (\x00), which cannot be stored. Remove it and send again.",
            id="nul-character",
        ),
        pytest.param(
            "bad \ud800 text",
            "The message contains characters that are not valid text (unpaired surrogates).",
            id="lone-surrogate",
        ),
        pytest.param(
            "x" * 200_000,
            "The message is too long: 200,000 characters, the limit is 100,000 (MAX_MESSAGE_CHARS).",
            id="200kb-paste-over-the-limit",
        ),
    ],
)
def test_refused_input_is_explained_and_nothing_is_saved_or_sent(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    provider: FakeProvider,
    session_id: str,
    text: str,
    words: str,
) -> None:
    with pytest.raises(errors.InvalidInput) as raised:
        start_reply(store, client, settings, session_id=session_id, text=text)
    assert str(raised.value) == words
    assert stored(store, session_id) == []
    assert provider.chat_requests() == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param("   ", "The message is empty", id="whitespace-only"),
        pytest.param("x" * 200_000, "The message is too long: 200,000 characters", id="200kb-paste-over-the-limit"),
        pytest.param("a\x00b", "NUL character", id="nul-character"),
    ],
)
def test_refused_input_in_the_page_is_a_warning_and_creates_no_chat(store: ChatStore, text: str, words: str) -> None:
    app = send_in_page(run_app(), text)
    assert not app.exception
    assert words in shown(app.warning[0].value)
    assert store.count_sessions() == 0


def test_invisible_characters_among_visible_ones_are_sent_and_stored_as_typed(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    text = "\u200b\U0001f469\U0001f3fd\u200d\U0001f4bb soft\u00adhyphen"  # woman technologist, joined
    send_message(store, client, settings, session_id=session_id, text=text)
    assert stored(store, session_id)[0] == ("user", text)
    assert provider.chat_requests()[0].body["messages"][-1] == {"role": "user", "content": text}


def test_200kb_paste_under_a_raised_limit_is_stored_once_and_sent_whole(
    store: ChatStore, provider: FakeProvider, settings: Settings, session_id: str
) -> None:
    roomy = replace(settings, max_message_chars=250_000)
    paste = ("line of pasted log output 0123456789\n" * 5300)[:200_000]
    provider.script(Reply(chunks=["Got it"]))
    send_message(store, make_client(roomy), roomy, session_id=session_id, text=paste)
    assert stored(store, session_id) == [("user", paste), ("assistant", "Got it")]
    assert provider.chat_requests()[-1].body["messages"][-1]["content"] == paste


def test_control_characters_are_kept_exactly_and_the_page_still_draws(store: ChatStore, provider: FakeProvider) -> None:
    # Not at the very end: Markdown elements drop trailing whitespace, which \x0c counts as.
    text = "bell\x07 escape\x1b[31m red\x1b[0m carriage\rreturn tab\tvertical\x0bform\x0cfeed"
    app = send_in_page(run_app(), text)
    assert not app.exception
    session_id = app.query_params["session"]
    assert stored(store, session_id)[0] == ("user", text)
    assert shown(app.chat_message[0].markdown[0].value) == text


def test_html_script_and_markdown_from_the_user_are_shown_as_typed(store: ChatStore, provider: FakeProvider) -> None:
    text = "<script>alert(1)</script> **not bold** [a link](http://example.com) # not a heading"
    provider.script(Reply(chunks=["ok"]))
    app = send_in_page(run_app(), text)
    assert not app.exception
    # Every Markdown character is escaped: the browser shows the characters, not tags or styling.
    # (The address itself becomes a link whose text is the address as typed.)
    expected = (
        r"\<script\>alert\(1\)\</script\> \*\*not bold\*\* \[a link\]\("
        r"[http://example\.com](http://example.com)\) \# not a heading"
    )
    assert chat_log(app)[0] == ("user", expected)
    # The chat is titled after the message: the heading and the sidebar entry escape it too.
    app = app.run()
    assert app.subheader[0].value.startswith(r"\<script\>alert\(1\)\</script\>")
    session_id = app.query_params["session"]
    entry = app.sidebar.button(key=f"open-{session_id}")
    # (The current chat's entry is bold in the accent colour: ":primary[**…**]" around the title.)
    assert entry.label.startswith(r":primary[**\<script\>alert\(1\)")
    assert "<script>" not in entry.label
    assert stored(store, session_id)[0] == ("user", text)


def test_dollar_signs_are_never_read_as_latex(store: ChatStore, provider: FakeProvider) -> None:
    app = send_in_page(run_app(), "Is it $5 or $6?")
    assert not app.exception
    assert chat_log(app) == [("user", r"Is it \$5 or \$6?"), ("assistant", r"Echo: Is it \$5 or \$6?")]
    entry = app.sidebar.button(key=f"open-{app.query_params['session']}")
    # The tooltip is Markdown as well: before the fix "$5 or $6" turned into a formula there.
    assert entry.help.startswith(r"Is it \$5 or \$6?")


def test_provider_error_text_is_shown_as_written(store: ChatStore, provider: FakeProvider) -> None:
    provider.script(Failure(402, error_body("Balance **$0.00**: top up at <a href='x'>billing</a> ($5 minimum)")))
    app = send_in_page(run_app(), "hello")
    assert not app.exception
    assert app.error[0].value == (
        r"The AI provider refused the request \(402\)\. The provider said: Balance \*\*\$0\.00\*\*: top up at "
        r"\<a href='x'\>billing\</a\> \(\$5 minimum\)"
    )


@pytest.mark.parametrize(
    ("raw", "notice"),
    [
        pytest.param("not-a-uuid", "That chat link is not valid.", id="malformed"),
        pytest.param("../../etc/passwd", "That chat link is not valid.", id="path-in-the-url"),
        pytest.param("' OR 1=1 --", "That chat link is not valid.", id="sql-in-the-url"),
        pytest.param(UNKNOWN_ID, "That chat no longer exists", id="unknown"),
    ],
)
def test_bad_session_link_gives_a_notice_and_creates_nothing(store: ChatStore, raw: str, notice: str) -> None:
    app = run_app(session_id=raw)
    assert not app.exception
    assert app.warning[0].value.startswith(notice)
    assert store.count_sessions() == 0


def test_session_deleted_in_another_tab_sends_the_next_message_to_a_new_chat(
    store: ChatStore, provider: FakeProvider
) -> None:
    app = send_in_page(run_app(), "first")
    old_id = app.query_params["session"]
    store.delete_session(old_id)  # the other tab
    app = send_in_page(app, "second")
    assert not app.exception
    new_id = app.query_params["session"]
    assert new_id != old_id
    assert stored(store, new_id) == [("user", "second"), ("assistant", "Echo: second")]
    assert store.count_sessions() == 1


def test_session_deleted_while_its_reply_streams_is_explained_not_a_crash(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    provider.script(Reply(chunks=["arrives ", "too late"], after_chunks=lambda: store.delete_session(session_id)))
    pending = start_reply(store, client, settings, session_id=session_id, text="hello")
    with pytest.raises(errors.SessionNotFound) as raised:
        for _ in pending:
            pass
    assert str(raised.value) == (
        "This chat was deleted (perhaps in another tab) while the reply was arriving, so the reply was not saved. "
        "Start a new chat to continue."
    )
    pending.close()  # what the page's ``finally`` does: it must not raise again
    assert pending.saved is None
    assert store.count_sessions() == 0


def test_session_deleted_while_its_reply_streams_in_the_page_shows_a_warning(
    store: ChatStore, provider: FakeProvider
) -> None:
    app = send_in_page(run_app(), "first")
    session_id = app.query_params["session"]
    provider.script(Reply(chunks=["too late"], after_chunks=lambda: store.delete_session(session_id)))
    app = send_in_page(app, "second")
    assert not app.exception
    assert "was deleted (perhaps in another tab) while the reply was arriving" in shown(app.warning[-1].value)
    assert store.count_sessions() == 0


def test_session_reset_while_its_reply_streams_keeps_the_paid_reply_and_exact_totals(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    # The reply was billed: it is saved into the emptied chat, and its cost is counted there.
    provider.script(Reply(chunks=["late"], after_chunks=lambda: store.reset_session(session_id)))
    send_message(store, client, settings, session_id=session_id, text="hello")
    assert stored(store, session_id) == [("assistant", "late")]
    assert_totals_equal_the_rows(store, session_id)
