"""Which chat session the page shows: it lives in the URL as ``?session=<uuid>``."""

from __future__ import annotations

import streamlit as st

from smallchat.chat import parse_session_id
from smallchat.errors import InvalidInput, SessionNotFound
from smallchat.repository import ChatStore, SessionSummary

SESSION_PARAM = "session"
# The session the chat page showed last, for pages reached through the sidebar's page list
# (which drops the URL's query parameters) to link back to it.
SHOWN_SESSION = "shown_session"


def resolve_current_session(store: ChatStore) -> tuple[SessionSummary | None, str | None]:
    """The session named in the URL, or None with a notice for a malformed or unknown id."""
    st.session_state.pop(SHOWN_SESSION, None)
    raw = st.query_params.get(SESSION_PARAM)
    if not raw:
        return None, None
    try:
        session = store.get_session(parse_session_id(raw))
    except InvalidInput:
        return None, "That chat link is not valid. Pick a chat in the sidebar or start a new one."
    except SessionNotFound:
        return None, "That chat no longer exists: it may have been deleted. Pick another or start a new one."
    st.session_state[SHOWN_SESSION] = session.id
    return session, None


def open_session(session_id: str) -> None:
    """Show ``session_id`` (kept in the URL so refresh and copied links return to it)."""
    st.query_params[SESSION_PARAM] = session_id
    st.session_state.pop("visible_messages", None)


def open_new_chat() -> None:
    """Clear the current session; the next message creates a new one."""
    st.query_params.pop(SESSION_PARAM, None)
    st.session_state.pop("visible_messages", None)
