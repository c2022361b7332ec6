"""The chat page's sidebar: new chat, the sessions with their costs, and the current one's controls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from smallchat.config import Settings
from smallchat.errors import SmallChatError
from smallchat.forecast import Forecast
from smallchat.money import format_usd
from smallchat.repository import ChatStore, SessionSummary
from smallchat.ui.guardrails import render_budget_settings, render_context_gauge, render_model_picker
from smallchat.ui.navigation import SESSION_PARAM, open_new_chat, open_session
from smallchat.ui.text import error_text, escape_markdown

SESSIONS_PAGE_SIZE = 30
CONFIRMING = "confirming"  # (action, session id) awaiting the user's confirmation
STYLE = Path(__file__).with_name("sidebar.css")
ANALYTICS_PAGE = "pages/1_Cost_analytics.py"


def render_sidebar(store: ChatStore, settings: Settings, current: SessionSummary | None, forecast: Forecast) -> None:
    with st.sidebar:
        st.html(STYLE)  # only a <style>: it takes no space
        st.button("New chat", icon=":material/add:", on_click=open_new_chat, width="stretch", type="primary")
        # Carries the session along, so the analytics page can lead back to it.
        st.page_link(
            ANALYTICS_PAGE,
            label="Where the money goes",
            icon=":material/insights:",
            query_params={SESSION_PARAM: current.id} if current else None,
        )
        if current is not None:
            render_current_session(store, current)
            render_model_picker(store, settings, current)
            render_context_gauge(settings, current, forecast)
        render_budget_settings(store, settings, current)
        render_session_list(store, current)


def _cost_label(session: SessionSummary) -> str:
    return format_usd(session.cost) + ("+" if session.unpriced_replies else "")


def render_session_list(store: ChatStore, current: SessionSummary | None) -> None:
    shown = st.session_state.get("sessions_shown", SESSIONS_PAGE_SIZE)
    sessions = store.list_sessions(limit=shown + 1)
    st.subheader("Chats", divider="gray")
    if not sessions:
        st.caption("No chats yet. Your first message starts one.")
        return
    for session in sessions[:shown]:
        # One line per chat: the title, cut with an ellipsis where the sidebar ends, and its
        # cost right-aligned, so the numbers line up in a column.
        with st.container(
            key=f"chat-row-{session.id}", horizontal=True, vertical_alignment="center", gap="small", wrap=False
        ):
            title = escape_markdown(session.title)
            is_current = current is not None and session.id == current.id
            st.button(
                f":primary[**{title}**]" if is_current else title,
                key=f"open-{session.id}",
                # Tooltips are Markdown too: a title such as "$5 or $6?" must not turn into LaTeX.
                help=escape_markdown(
                    f"{session.title}\n\n{_count(session.message_count, 'message')} · {_cost_label(session)}"
                ),
                on_click=open_session,
                args=(session.id,),
                type="tertiary",
                width="stretch",
                wrap=False,
            )
            st.caption(escape_markdown(_cost_label(session)), width="content")
    if len(sessions) > shown:
        st.button(
            "Show more chats",
            on_click=lambda: st.session_state.update(sessions_shown=shown + SESSIONS_PAGE_SIZE),
        )


def render_current_session(store: ChatStore, session: SessionSummary) -> None:
    st.subheader("This chat", divider="gray")
    st.metric("Cost", _cost_label(session))
    # No-break spaces inside each figure: a narrow sidebar wraps between figures, not within one.
    figures = [
        _count(session.message_count, "message"),
        f"{session.prompt_tokens:,} in",
        f"{session.cached_tokens:,} cached",
        f"{session.completion_tokens:,} out",
    ]
    if session.unpriced_replies:
        figures.append(f"{session.unpriced_replies} without a known price")
    if session.estimated_replies:
        figures.append(f"{session.estimated_replies} estimated")
    st.caption(" · ".join(figure.replace(" ", "\N{NO-BREAK SPACE}") for figure in figures))
    # One row, also on a phone (columns would stack there, or scroll when told not to).
    with st.container(key="chat-controls", horizontal=True, gap="small", wrap=False):
        with (
            st.popover(":material/edit:", width="stretch", help="Rename this chat"),
            st.form(f"rename-{session.id}", border=False),  # Enter saves, as in any form
        ):
            new_title = st.text_input("Title", max_chars=200, key=_title_field(session))
            if st.form_submit_button("Save", key="rename-save"):
                _rename(store, session, new_title)
        st.button(
            ":material/restart_alt:",
            key="reset",
            width="stretch",
            help="Reset: clear the messages, keep this chat",
            on_click=_ask_to_confirm,
            args=("reset", session.id),
        )
        st.button(
            ":material/delete:",
            key="delete",
            width="stretch",
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


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _ask_to_confirm(action: str, session_id: str) -> None:
    st.session_state[CONFIRMING] = (action, session_id)


def _stop_confirming() -> None:
    st.session_state.pop(CONFIRMING, None)


def _close_dialog() -> None:
    # A click inside a dialog reruns only the dialog: without a rerun of the whole page the
    # dialog would stay open, asking again.
    _stop_confirming()
    st.rerun()


def _title_field(session: SessionSummary) -> str:
    """The title field's key, filled with the stored title whenever that changed.

    A keyed widget keeps what it held across reruns and ignores a new ``value``: after the
    first message named the chat, or a rename in another tab, it would still offer the old
    title, and Enter would put it back.
    """
    key = f"title-{session.id}"
    filled_from = f"{key}-filled-from"
    if st.session_state.get(filled_from) != session.title:
        st.session_state[key] = session.title
        st.session_state[filled_from] = session.title
    return key


def _rename(store: ChatStore, session: SessionSummary, title: str) -> None:
    title = " ".join(title.split())
    if not title:
        st.warning("A title cannot be empty.")
        return
    try:
        store.rename_session(session.id, title=title)
    except SmallChatError as error:
        st.error(error_text(error))
        return
    st.rerun()


@st.dialog("Reset this chat?", on_dismiss=_stop_confirming)
def _confirm_reset(store: ChatStore, session: SessionSummary) -> None:
    st.write(
        f"All {session.message_count:,} messages of **{escape_markdown(session.title)}** will be "
        "deleted. The chat and its link stay."
    )

    def reset() -> None:
        store.reset_session(session.id)
        st.session_state.pop("visible_messages", None)

    _confirm_or_cancel("Reset chat", reset)


@st.dialog("Delete this chat?", on_dismiss=_stop_confirming)
def _confirm_delete(store: ChatStore, session: SessionSummary) -> None:
    st.write(
        f"**{escape_markdown(session.title)}** and its {session.message_count:,} messages will be deleted for good."
    )

    def delete() -> None:
        store.delete_session(session.id)
        open_new_chat()

    _confirm_or_cancel("Delete chat", delete)


def _confirm_or_cancel(label: str, action: Callable[[], None]) -> None:
    """The dialog's two buttons: ``label`` runs ``action`` and reruns the page; Cancel closes it."""
    confirm, cancel = st.columns(2)
    if cancel.button("Cancel", width="stretch"):
        _close_dialog()
    if confirm.button(label, type="primary", width="stretch"):
        _stop_confirming()
        try:
            action()
        except SmallChatError as error:
            st.error(error_text(error))
            return
        st.rerun()
