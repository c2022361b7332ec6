"""SmallChat: the chat page. UI only; the work is done by the ``smallchat`` core."""

from __future__ import annotations

import streamlit as st

from smallchat.errors import SmallChatError
from smallchat.llm import needs_api_key
from smallchat.ui.chat_view import (
    RETRY_REQUESTED,
    render_history,
    render_key_form,
    render_unanswered,
    send,
)
from smallchat.ui.guardrails import page_forecast, render_budget_warnings, render_forecast, take_held_message
from smallchat.ui.navigation import open_new_chat, resolve_current_session
from smallchat.ui.resources import load_settings_or_stop, load_store_or_stop, warm_up_for_first_message
from smallchat.ui.sidebar import render_sidebar
from smallchat.ui.text import error_text, escape_markdown

st.set_page_config(page_title="SmallChat", page_icon="💬", layout="centered")


def main() -> None:
    settings = load_settings_or_stop()
    store = load_store_or_stop(settings)
    session, notice = resolve_current_session(store)

    heading = st.empty()
    heading.subheader(escape_markdown(session.title) if session else "SmallChat", anchor=False)
    notice_place = st.empty()
    if notice:
        with notice_place.container():
            st.warning(notice, icon=":material/link_off:")
            st.button("Start a new chat", icon=":material/add:", on_click=open_new_chat)

    missing_key = needs_api_key(settings)
    if missing_key:
        render_key_form(settings)

    history = render_history(store, session) if session else []
    welcome = st.empty()
    if session is None and not notice and not missing_key:
        welcome.caption(f"Chat with **{escape_markdown(settings.model_name)}** and see what every reply costs.")

    prompt = st.chat_input("Message SmallChat", submit_mode="stop", disabled=missing_key)
    retry = session is not None and st.session_state.pop(RETRY_REQUESTED, None) == session.id
    held = take_held_message(session)
    if prompt is not None:
        send(store, settings, session, prompt)
    elif held is not None:
        confirmed, held_text = held
        send(store, settings, session, held_text, confirm_over_budget=confirmed)
    elif retry:
        send(store, settings, session, None)
    elif history and history[-1].role == "user":
        render_unanswered(session)

    # Drawn last so that totals, budgets and the forecast include the reply that just streamed.
    shown, (session, _) = session, resolve_current_session(store)
    if session is not None and (shown is None or shown.title != session.title):
        # A first message started or named this chat: its title takes the welcome's place,
        # and a notice about a bad link no longer applies.
        heading.subheader(escape_markdown(session.title), anchor=False)
        welcome.empty()
        notice_place.empty()
    render_budget_warnings(store, settings, session)
    forecast = page_forecast(store, settings, session)
    if not missing_key:
        render_forecast(forecast)
    render_sidebar(store, settings, session, forecast)
    warm_up_for_first_message(session.model if session else settings.model_name)


try:
    main()
except SmallChatError as error:
    # The boundary: a condition SmallChat can explain (the database became busy or read-only,
    # the chat vanished) that no inner handler caught is shown in words, never as a traceback.
    st.error(error_text(error), icon=":material/error:")
