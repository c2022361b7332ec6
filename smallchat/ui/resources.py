"""Process-wide resources for the pages: settings, the store and the provider client.

Each is built once per process (``st.cache_resource``); a configuration or storage
problem stops the page with a clear message instead of a traceback.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

import streamlit as st

from smallchat.config import Settings, load_settings
from smallchat.db import create_db_engine, upgrade_database
from smallchat.errors import SmallChatError
from smallchat.llm import make_client
from smallchat.repository import ChatStore
from smallchat.tokens import warm_up
from smallchat.ui.text import error_text

if TYPE_CHECKING:
    import openai

SESSION_API_KEY = "session_api_key"


def _streamlit_secrets() -> dict[str, Any]:
    """Top-level values of ``st.secrets``; empty when no secrets file exists."""
    try:
        return {key: value for key, value in st.secrets.to_dict().items() if not isinstance(value, dict)}
    except Exception:  # no secrets.toml, or one that does not parse: environment and .env still apply
        return {}


@st.cache_resource(show_spinner=False)
def _load_settings_once() -> Settings:
    return load_settings(secrets=_streamlit_secrets())


def _close_store(store: ChatStore) -> None:
    store.engine.dispose()


def _close_client(client: openai.OpenAI) -> None:
    client.close()


# Released (evicted, or the cache cleared): their connections are closed then, not left to
# the garbage collector.
@st.cache_resource(show_spinner=False, on_release=_close_store)
def _load_store(database_url: str) -> ChatStore:
    engine = create_db_engine(database_url)
    upgrade_database(engine)
    return ChatStore(engine)


@st.cache_resource(show_spinner=False, max_entries=16, on_release=_close_client)
def _load_client(settings: Settings) -> openai.OpenAI:
    return make_client(settings)


@st.cache_resource(show_spinner=False)
def warm_up_for_first_message(model: str) -> None:
    """Once per process (and model), at the end of the first render: load the model's tokenizer,
    then import the provider SDK, on a background thread, so that the first message waits for
    neither.

    quicktok builds its vocabulary without releasing the GIL (0.3-0.5 s), so the last moments of
    this render still feel it; the SDK import that follows shares the GIL as Python code does.
    """
    threading.Thread(target=_load_for_first_message, args=(model,), name="smallchat-warm-up", daemon=True).start()


def _load_for_first_message(model: str) -> None:
    warm_up(model)
    importlib.import_module("openai")  # about 0.4 s; smallchat.llm imports it on first use


def load_settings_or_stop() -> Settings:
    """The app's settings, with the key typed in for this browser session if there is one."""
    try:
        settings = _load_settings_once()
    except SmallChatError as error:
        st.error(f"SmallChat is not configured correctly: {error_text(error)}")
        st.stop()
    session_key = st.session_state.get(SESSION_API_KEY)
    return settings.with_api_key(session_key) if session_key else settings


def load_store_or_stop(settings: Settings) -> ChatStore:
    """The chat store; stops the page with the reason when the database cannot be used."""
    try:
        return _load_store(settings.database_url)
    except SmallChatError as error:
        st.error(f"The chat history database cannot be used. {error_text(error)}")
        st.stop()


def load_client(settings: Settings) -> openai.OpenAI:
    """The SDK client for these settings (raises InvalidApiKey when no key is set)."""
    return _load_client(settings)
