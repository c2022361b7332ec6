"""The chat page's main column: history, the streamed reply, errors with a way on."""

from __future__ import annotations

import streamlit as st

from smallchat.chat import start_reply, validate_message
from smallchat.config import Settings
from smallchat.errors import (
    BudgetExceeded,
    ContextTooLong,
    InvalidApiKey,
    InvalidInput,
    ProviderError,
    SmallChatError,
)
from smallchat.llm import needs_api_key
from smallchat.repository import ChatStore, MessageRecord, SessionSummary
from smallchat.ui.guardrails import render_budget_block
from smallchat.ui.navigation import open_new_chat, open_session
from smallchat.ui.resources import SESSION_API_KEY, load_client
from smallchat.ui.text import error_text, escape_dollars, escape_markdown, reply_caption

MESSAGES_PAGE_SIZE = 50
# Why the last message got no reply, per session, so the retry prompt survives reruns.
LAST_ERROR = "last_error"
RETRY_REQUESTED = "retry_requested"


def render_history(store: ChatStore, session: SessionSummary) -> list[MessageRecord]:
    """The latest messages of the session; earlier ones load on demand."""
    visible = st.session_state.get("visible_messages", MESSAGES_PAGE_SIZE)
    messages = store.list_messages(session.id, limit=visible)
    hidden = session.message_count - len(messages)
    if hidden > 0:
        st.button(
            f"Show earlier messages ({hidden:,} more)",
            icon=":material/expand_less:",
            on_click=lambda: st.session_state.update(visible_messages=visible + MESSAGES_PAGE_SIZE),
        )
    for message in messages:
        render_message(message)
    return messages


def render_message(message: MessageRecord) -> None:
    with st.chat_message(message.role):
        if message.role == "user":
            st.markdown(escape_markdown(message.content))
        else:
            st.markdown(escape_dollars(message.content))
            st.caption(reply_caption(message))


def render_unanswered(session: SessionSummary) -> None:
    """Under a user message that got no reply: why, and a button to retry it as it is."""
    error = st.session_state.get(LAST_ERROR, {}).get(session.id)
    with st.chat_message("assistant"):
        st.warning(escape_markdown(error) if error else "This message got no reply yet.", icon=":material/error:")
        _retry_button(session)


def render_key_form(settings: Settings) -> None:
    st.info(
        "**No API key is configured.** Set `AI_API_KEY` in the environment, in a `.env` file in the "
        "folder you start the app from, or in `.streamlit/secrets.toml` (on Streamlit Community Cloud: the app's "
        "*Settings → Secrets*). Or paste a key here to use it in this browser session only: it is "
        "never saved.",
        icon=":material/key:",
    )
    _session_key_form()


_KEY_INPUT = "api-key-input"


def _session_key_form() -> None:
    """A key for this browser session only (never saved), used instead of the configured one.

    Taken in the button's callback: after a rejected key the form is drawn under that error
    only, and a rerun that no longer draws it would lose what was typed.
    """
    with st.form("api-key", border=False):
        st.text_input("API key for this session", type="password", placeholder="gsk_… or sk-…", key=_KEY_INPUT)
        st.form_submit_button("Use this key", on_click=_use_session_key)


def _use_session_key() -> None:
    if key := st.session_state.get(_KEY_INPUT, "").strip():
        st.session_state[SESSION_API_KEY] = key
        # The errors shown so far were about the old key; a message they left unanswered
        # keeps its Retry button.
        st.session_state.pop(LAST_ERROR, None)


def send(
    store: ChatStore,
    settings: Settings,
    session: SessionSummary | None,
    text: str | None,
    *,
    confirm_over_budget: bool = False,
) -> None:
    """Send ``text`` (None: retry the unanswered message) and stream the reply into the page."""
    if text is not None:
        try:
            text = validate_message(text, settings)
        except InvalidInput as error:
            st.warning(error_text(error), icon=":material/block:")
            return
    if needs_api_key(settings):
        st.warning("Set an API key first (see above); your message was not sent.", icon=":material/key:")
        return
    if session is None:
        session = store.create_session(model=settings.model_name)
        open_session(session.id)
    if text is not None:
        with st.chat_message("user"):
            st.markdown(escape_markdown(text))
    errors_by_session = st.session_state.setdefault(LAST_ERROR, {})
    errors_by_session.pop(session.id, None)
    with st.chat_message("assistant"):
        try:
            pending = start_reply(
                store,
                load_client(settings),
                settings,
                session_id=session.id,
                text=text,
                confirm_over_budget=confirm_over_budget,
            )
        except BudgetExceeded as error:
            render_budget_block(error, text, session)
            return
        except ProviderError as error:
            errors_by_session[session.id] = str(error)
            render_provider_error(error, unanswered=session)
            return
        except SmallChatError as error:
            st.warning(error_text(error))
            return
        failed: ProviderError | None = None
        try:
            st.write_stream(escape_dollars(part) for part in pending)
        except ProviderError as error:
            errors_by_session[session.id] = str(error)
            failed = error
        except SmallChatError as error:
            # The reply arrived but could not be saved: the chat was deleted in another tab
            # meanwhile, or the database failed. Say so; nothing else is at stake.
            st.warning(error_text(error), icon=":material/error:")
        finally:
            # Runs also when the user presses stop or the page reruns mid-stream:
            # what arrived so far is saved, flagged incomplete.
            pending.close()
        if failed is not None:
            # A reply cut short is kept; only a message left without any reply can be retried.
            render_provider_error(failed, unanswered=session if pending.saved is None else None)
        if pending.saved is not None:
            st.caption(reply_caption(pending.saved))


def render_provider_error(error: ProviderError, *, unanswered: SessionSummary | None) -> None:
    """The provider's failure, and the way on: a new chat, a new key, or Retry for ``unanswered``."""
    st.error(error_text(error), icon=":material/error:")
    if isinstance(error, ContextTooLong):
        st.button("Start a new chat", icon=":material/add:", on_click=open_new_chat, key="context-new-chat")
    elif isinstance(error, InvalidApiKey):
        # The error says "or enter another key": here is where.
        st.session_state.pop(SESSION_API_KEY, None)
        _session_key_form()
    if error.retryable and unanswered is not None:
        st.caption("Your message is saved: press Retry to send it again.")
        _retry_button(unanswered)


def _retry_button(session: SessionSummary) -> None:
    st.button(
        "Retry",
        icon=":material/refresh:",
        key="retry",
        on_click=lambda: st.session_state.update({RETRY_REQUESTED: session.id}),
    )
