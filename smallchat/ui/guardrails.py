"""The chat page's spending guardrails: forecast, context gauge, budgets and the model picker."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

import streamlit as st

from smallchat.budgets import budget_statuses, set_budget
from smallchat.config import Settings
from smallchat.errors import BudgetExceeded, SmallChatError
from smallchat.forecast import Forecast, context_window, forecast_from, forecast_next
from smallchat.llm import list_models
from smallchat.money import format_usd, usd_text
from smallchat.repository import ChatStore, SessionSummary
from smallchat.ui.resources import load_client
from smallchat.ui.text import error_text, escape_dollars

# The message held back by a budget, kept so that confirming or raising sends it as typed.
HELD_MESSAGE = "held_message"
CONFIRMED_OVER_BUDGET = "confirmed_over_budget"


def page_forecast(store: ChatStore, settings: Settings, session: SessionSummary | None) -> Forecast:
    """``forecast_next`` for the page, reading the session's history only when it changed."""
    if session is None:
        return forecast_next(store, settings, None)
    history_tokens, typical_reply_tokens = _forecast_inputs(
        store, session.id, session.message_count, session.updated_at
    )
    return forecast_from(
        settings, session.model, history_tokens=history_tokens, typical_reply_tokens=typical_reply_tokens
    )


@st.cache_data(show_spinner=False, max_entries=32)
def _forecast_inputs(
    _store: ChatStore, session_id: str, message_count: int, updated_at: datetime
) -> tuple[list[int], int | None]:
    # Every message written moves the session's count and time, so a rerun (a click, a
    # widget) reads nothing, however long the chat: the page's cost must not grow with it.
    return _store.history_token_counts(session_id), _store.typical_reply_tokens(session_id)


def render_forecast(forecast: Forecast) -> None:
    """The expected cost of the next message, just above the chat box."""
    if forecast.expected_cost is None:
        st.caption("Next message: cost n/a, no known price for this model.")
        return
    how = "counted with the model's tokenizer" if forecast.exact_tokens else "estimated at 4 characters per token"
    text = (
        f"Next message ≈ {format_usd(forecast.expected_cost)}: {forecast.plan.prompt_tokens:,} context tokens "
        f"+ your message + a ~{forecast.expected_reply_tokens:,}-token reply ({how})"
    )
    if forecast.max_cost is not None:
        text += f"; at most {format_usd(forecast.max_cost)} with a {forecast.max_reply_tokens:,}-token reply"
    st.caption(escape_dollars(text))
    if forecast.plan.omitted_messages:
        st.caption(
            f"{forecast.plan.omitted_messages:,} earlier messages are not sent with the next request "
            "(context limit: AI_MAX_CONTEXT_TOKENS / AI_MAX_CONTEXT_MESSAGES)."
        )


def render_budget_warnings(store: ChatStore, settings: Settings, session: SessionSummary | None) -> None:
    for status in budget_statuses(store, settings, session):
        if status.near_limit:
            st.warning(escape_dollars(status.describe() + "."), icon=":material/savings:")


def render_budget_block(error: BudgetExceeded, text: str | None, session: SessionSummary) -> None:
    """The message was held back: say why, and offer to send it anyway or raise the budget."""
    st.session_state[HELD_MESSAGE] = (session.id, text)
    st.error(error_text(error), icon=":material/savings:")
    st.button(
        "Send anyway, this once",
        key="send-over-budget",
        on_click=lambda: st.session_state.update({CONFIRMED_OVER_BUDGET: session.id}),
    )
    st.caption("Or raise the budget in the sidebar; your message is kept until then.")


def take_held_message(session: SessionSummary | None) -> tuple[bool, str | None] | None:
    """(confirmed, text) of a held message the person chose to send now, else None."""
    held = st.session_state.get(HELD_MESSAGE)
    if session is None or not held or held[0] != session.id:
        return None
    confirmed = st.session_state.pop(CONFIRMED_OVER_BUDGET, None) == session.id
    if not confirmed and not st.session_state.pop("budget_raised", False):
        return None
    st.session_state.pop(HELD_MESSAGE, None)
    return confirmed, held[1]


def render_context_gauge(settings: Settings, session: SessionSummary, forecast: Forecast) -> None:
    window = context_window(settings, session.model)
    if not window:
        st.caption(f"Context: {forecast.plan.prompt_tokens:,} tokens (window size unknown for this model)")
        return
    share = min(forecast.plan.prompt_tokens / window, 1.0)
    st.progress(share, text=f"Context used: {forecast.plan.prompt_tokens:,} of {window:,} tokens ({share:.0%})")


@st.cache_data(ttl=600, show_spinner=False)
def load_model_ids(settings: Settings) -> list[str]:
    """The provider's models, fetched at most every ten minutes."""
    try:
        return list_models(load_client(settings))
    except SmallChatError:
        return []


def render_model_picker(store: ChatStore, settings: Settings, session: SessionSummary) -> None:
    models = load_model_ids(settings) or [settings.model_name]
    if session.model not in models:
        models = [session.model, *models]
    chosen = st.selectbox("Model", models, index=models.index(session.model), key=f"model-{session.id}")
    if chosen != session.model:
        store.set_session_model(session.id, model=chosen)
        st.rerun()


def render_budget_settings(store: ChatStore, settings: Settings, session: SessionSummary | None) -> None:
    statuses = {status.scope: status for status in budget_statuses(store, settings, session)}
    with st.popover("Budgets", icon=":material/savings:", width="stretch"):
        for scope, label in (("daily", "Daily budget (USD, all chats)"), ("session", "This chat's budget (USD)")):
            if scope == "session" and session is None:
                continue
            current = statuses.get(scope)
            if current is not None:
                st.caption(escape_dollars(current.describe()))
            # One field per chat: a chat's budget must never show in another chat's field.
            key = "daily" if scope == "daily" else f"session-{session.id}"
            raw = st.text_input(
                label,
                value="" if current is None else usd_text(current.limit),
                key=f"budget-{key}",
                help="Leave empty to remove this budget.",
            )
            if st.button("Save", key=f"budget-save-{key}"):
                _save_budget(store, scope, session, raw)


def _save_budget(store: ChatStore, scope: str, session: SessionSummary | None, raw: str) -> None:
    text = raw.strip().lstrip("$").strip()
    try:
        limit = Decimal(text) if text else None
    except InvalidOperation:
        st.warning("Enter an amount in US dollars, such as 0.50.")
        return
    try:
        set_budget(store, scope=scope, session=session, limit=limit)
    except SmallChatError as error:
        st.warning(error_text(error))
        return
    st.session_state["budget_raised"] = True
    st.rerun()
