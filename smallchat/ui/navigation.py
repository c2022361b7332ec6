"""Which chat session the page shows: it lives in the URL as ``?session=<uuid>``."""

from __future__ import annotations

import streamlit as st

from smallchat.chat import parse_session_id
from smallchat.errors import InvalidInput, SessionNotFound
from smallchat.repository import ChatStore, SessionSummary

SESSION_PARAM = "session"


def resolve_current_session(store: ChatStore) -> tuple[SessionSummary | None, str | None]:
    """The session named in the URL, or None with a notice for a malformed or unknown id."""
    raw = st.query_params.get(SESSION_PARAM)
    if not raw:
        return None, None
    try:
        return store.get_session(parse_session_id(raw)), None
    except InvalidInput:
        return None, "That chat link is not valid. Pick a chat in the sidebar or start a new one."
    except SessionNotFound:
        return None, "That chat no longer exists: it may have been deleted. Pick another or start a new one."


def open_session(session_id: str) -> None:
    """Show ``session_id`` (kept in the URL so refresh and copied links return to it)."""
    st.query_params[SESSION_PARAM] = session_id
    st.session_state.pop("visible_messages", None)


def open_new_chat() -> None:
    """Clear the current session; the next message creates a new one."""
    st.query_params.pop(SESSION_PARAM, None)
    st.session_state.pop("visible_messages", None)
