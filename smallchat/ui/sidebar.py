"""The chat page's sidebar: new chat, the sessions with their costs, and the current one's controls."""

from __future__ import annotations

import streamlit as st

from smallchat.errors import SmallChatError
from smallchat.money import format_usd
from smallchat.repository import ChatStore, SessionSummary
from smallchat.ui.navigation import SESSION_PARAM, open_new_chat, open_session
from smallchat.ui.text import escape_markdown

SESSIONS_PAGE_SIZE = 30
CONFIRMING = "confirming"  # (action, session id) awaiting the user's confirmation
LABEL_TITLE_CHARS = 28
ANALYTICS_PAGE = "pages/1_Cost_analytics.py"


def render_sidebar(store: ChatStore, current: SessionSummary | None) -> None:
    with st.sidebar:
        st.button("New chat", icon=":material/add:", on_click=open_new_chat, use_container_width=True, type="primary")
        # Carries the session along, so the analytics page can lead back to it.
        st.page_link(
            ANALYTICS_PAGE,
            label="Where the money goes",
            icon=":material/insights:",
            query_params={SESSION_PARAM: current.id} if current else None,
        )
        if current is not None:
            render_current_session(store, current)
        render_session_list(store, current)


def _label(session: SessionSummary) -> str:
    title = session.title
    if len(title) > LABEL_TITLE_CHARS:
        title = title[: LABEL_TITLE_CHARS - 1].rstrip() + "…"
    cost = format_usd(session.cost)
    if session.unpriced_replies:
        cost += "+"
    return escape_markdown(f"{title} · {cost}")


def render_session_list(store: ChatStore, current: SessionSummary | None) -> None:
    shown = st.session_state.get("sessions_shown", SESSIONS_PAGE_SIZE)
    sessions = store.list_sessions(limit=shown + 1)
    st.subheader("Chats", divider="gray")
    if not sessions:
        st.caption("No chats yet. Your first message starts one.")
        return
    for session in sessions[:shown]:
        st.button(
            _label(session),
            key=f"open-{session.id}",
            help=f"{session.title}\n\n{session.message_count} messages · {format_usd(session.cost)}",
            on_click=open_session,
            args=(session.id,),
            type="tertiary" if current is None or session.id != current.id else "secondary",
            use_container_width=True,
        )
    if len(sessions) > shown:
        st.button(
            "Show more chats",
            on_click=lambda: st.session_state.update(sessions_shown=shown + SESSIONS_PAGE_SIZE),
        )


def render_current_session(store: ChatStore, session: SessionSummary) -> None:
    st.subheader("This chat", divider="gray")
    st.metric("Cost", format_usd(session.cost) + ("+" if session.unpriced_replies else ""))
    st.caption(
        f"{session.message_count:,} messages · {session.prompt_tokens:,} in · "
        f"{session.cached_tokens:,} cached · {session.completion_tokens:,} out"
        + (f" · {session.unpriced_replies} without a known price" if session.unpriced_replies else "")
        + (f" · {session.estimated_replies} estimated" if session.estimated_replies else "")
    )
    rename, reset, delete = st.columns(3)
    with rename.popover(":material/edit:", use_container_width=True, help="Rename this chat"):
        new_title = st.text_input("Title", value=session.title, max_chars=200, key=f"title-{session.id}")
        if st.button("Save", key="rename-save"):
            _rename(store, session, new_title)
    reset.button(
        ":material/restart_alt:",
        key="reset",
        use_container_width=True,
        help="Reset: clear the messages, keep this chat",
        on_click=_ask_to_confirm,
        args=("reset", session.id),
    )
    delete.button(
        ":material/delete:",
        key="delete",
        use_container_width=True,
        help="Delete this chat and its history",
        on_click=_ask_to_confirm,
        args=("delete", session.id),
    )
    # The question stays asked across reruns until it is answered or dismissed.
    asked = st.session_state.get(CONFIRMING)
    if asked == ("reset", session.id):
        _confirm_reset(store, session)
    elif asked == ("delete", session.id):
        _confirm_delete(store, session)


def _ask_to_confirm(action: str, session_id: str) -> None:
    st.session_state[CONFIRMING] = (action, session_id)


def _stop_confirming() -> None:
    st.session_state.pop(CONFIRMING, None)


def _rename(store: ChatStore, session: SessionSummary, title: str) -> None:
    title = " ".join(title.split())
    if not title:
        st.warning("A title cannot be empty.")
        return
    try:
        store.rename_session(session.id, title=title)
    except SmallChatError as error:
        st.error(str(error))
        return
    st.rerun()


@st.dialog("Reset this chat?", on_dismiss=_stop_confirming)
def _confirm_reset(store: ChatStore, session: SessionSummary) -> None:
    st.write(
        f"All {session.message_count:,} messages of **{escape_markdown(session.title)}** will be "
        "deleted. The chat and its link stay."
    )
    confirm, cancel = st.columns(2)
    cancel.button("Cancel", on_click=_stop_confirming, use_container_width=True)
    if confirm.button("Reset chat", type="primary", use_container_width=True):
        _stop_confirming()
        try:
            store.reset_session(session.id)
        except SmallChatError as error:
            st.error(str(error))
            return
        st.session_state.pop("visible_messages", None)
        st.rerun()


@st.dialog("Delete this chat?", on_dismiss=_stop_confirming)
def _confirm_delete(store: ChatStore, session: SessionSummary) -> None:
    st.write(
        f"**{escape_markdown(session.title)}** and its {session.message_count:,} messages will be deleted for good."
    )
    confirm, cancel = st.columns(2)
    cancel.button("Cancel", on_click=_stop_confirming, use_container_width=True)
    if confirm.button("Delete chat", type="primary", use_container_width=True):
        _stop_confirming()
        try:
            store.delete_session(session.id)
        except SmallChatError as error:
            st.error(str(error))
            return
        open_new_chat()
        st.rerun()
