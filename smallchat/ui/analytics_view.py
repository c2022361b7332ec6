"""The cost analytics page's top half: cached loaders, the session in the URL, filters, headline, charts.

The numbers come from ``smallchat.analytics``; this module only caches, arranges and formats
them. Cached aggregates are keyed on the data's version (``data_version``), which every new
message, session, title or reset changes, so this page never shows older numbers than the
chat page.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from smallchat.analytics import (
    DataVersion,
    ForecastAccuracy,
    Totals,
    UsageFilter,
    UsageReport,
    data_version,
    forecast_accuracy,
    session_messages,
    usage_report,
)
from smallchat.chat import parse_session_id
from smallchat.errors import InvalidInput
from smallchat.money import format_usd, usd_text
from smallchat.pricing import list_priced_models
from smallchat.repository import ChatStore
from smallchat.ui.charts import (
    build_daily_chart,
    build_model_cost_chart,
    build_session_cost_chart,
    build_tokens_in_out_chart,
)
from smallchat.ui.navigation import SESSION_PARAM, SHOWN_SESSION
from smallchat.ui.text import escape_dollars, format_count

CHAT_PAGE = "app.py"


# Loaders ---------------------------------------------------------------------------------


def load_version(store: ChatStore) -> DataVersion:
    """The data's fingerprint; read on every run (three indexed look-ups) to key the caches."""
    return data_version(store.engine)


@st.cache_data(show_spinner="Adding up what every message cost…", max_entries=16)
def load_report(database_url: str, version: DataVersion, usage_filter: UsageFilter, _store: ChatStore) -> UsageReport:
    """The aggregates for ``usage_filter``; ``database_url`` and ``version`` only key the cache."""
    return usage_report(_store.engine, usage_filter)


@st.cache_data(show_spinner=False, max_entries=16)
def load_forecast_accuracy(
    database_url: str, version: DataVersion, usage_filter: UsageFilter, _store: ChatStore
) -> ForecastAccuracy:
    return forecast_accuracy(_store.engine, usage_filter)


@st.cache_data(show_spinner=False, max_entries=32)
def load_session_messages(database_url: str, version: DataVersion, session_id: str, _store: ChatStore) -> pd.DataFrame:
    return session_messages(_store.engine, session_id)


@st.cache_data(show_spinner=False, max_entries=1)
def load_what_if_models() -> list[str]:
    return list(list_priced_models())


def current_session_id(store: ChatStore) -> str | None:
    """The chat session this page is about, kept in its URL (``?session=``).

    Arriving through the sidebar's page list, the URL has lost it: the chat page's last shown
    session is put back into the URL, so "Back to the chat" and a refresh both keep it.
    """
    raw = st.query_params.get(SESSION_PARAM) or st.session_state.get(SHOWN_SESSION)
    if not raw:
        return None
    try:
        session_id = parse_session_id(raw)
    except InvalidInput:
        return None
    if not store.session_exists(session_id):
        return None
    if st.query_params.get(SESSION_PARAM) != session_id:
        st.query_params[SESSION_PARAM] = session_id
    return session_id


def chat_link_params(session_id: str | None) -> dict[str, str] | None:
    return {SESSION_PARAM: session_id} if session_id else None


# Header, empty state, filters ------------------------------------------------------------


def render_header() -> Any:
    """The title; returns the place for the link back to the chat, drawn once the session is known."""
    st.title("Cost analytics", anchor=False)
    st.caption("What you spent, on which chats and models, day by day. Days are UTC.")
    return st.empty()


def render_back_link(place: Any, session_id: str | None) -> None:
    """A link back to the chat page, to the session in the URL when there is one."""
    place.page_link(
        CHAT_PAGE,
        label="Back to the chat",
        icon=":material/arrow_back:",
        query_params=chat_link_params(session_id),
    )


def render_empty_state() -> None:
    st.info(
        "**Nothing to add up yet.** Once you have chatted, this page shows what every message "
        "cost, per chat, per day and per model.",
        icon=":material/insights:",
    )
    st.page_link(CHAT_PAGE, label="Start a chat", icon=":material/chat:")


def filter_usage(
    days: Any, models: list[str], title_words: str, *, first_day: date | None, last_day: date | None
) -> UsageFilter:
    """The filter the widgets describe; a range covering every day counts as no date filter.

    That keeps the unfiltered page on the fast path (the sessions' running totals) and on the
    same cache entry as the first visit.
    """
    picked = tuple(days) if isinstance(days, list | tuple) else (days,)
    start = picked[0] if picked else None
    end = picked[-1] if picked else None  # while a range is being picked, it has one end only
    return UsageFilter(
        first_day=start if start is not None and first_day is not None and start > first_day else None,
        last_day=end if end is not None and last_day is not None and end < last_day else None,
        models=tuple(sorted(models)),
        title_contains=" ".join(title_words.split()),
    )


def _follow_the_data(first_day: date, last_day: date, models: list[str]) -> None:
    """Keep the filter widgets' remembered values valid as the data changes.

    A date range that covered every day keeps covering every day when a new day's messages
    arrive (else the newest messages would silently drop out); any range stays within the
    days there are; chosen models that no longer appear are let go.
    """
    state = st.session_state
    everything = (first_day, last_day)
    days = tuple(state.get(_DAYS_KEY, ()))
    if not days or days == state.get(_DAYS_SPAN_KEY):
        state[_DAYS_KEY] = everything
    else:
        state[_DAYS_KEY] = tuple(min(max(day, first_day), last_day) for day in days)
    state[_DAYS_SPAN_KEY] = everything
    if _MODELS_KEY in state:
        state[_MODELS_KEY] = [model for model in state[_MODELS_KEY] if model in models]


_DAYS_KEY = "filter_days"
_DAYS_SPAN_KEY = "filter_days_span"  # every day there was when the range was last shown
_MODELS_KEY = "filter_models"


def render_filters(everything: UsageReport) -> UsageFilter:
    """The sidebar's filters, offered from the unfiltered report's days and models."""
    first_day, last_day = everything.first_day, everything.last_day
    assert first_day is not None and last_day is not None  # the page shows filters only when there is data
    models = list(everything.models["model"])
    _follow_the_data(first_day, last_day, models)
    with st.sidebar:
        st.header("Filters", anchor=False)
        days = st.date_input("Days (UTC)", min_value=first_day, max_value=last_day, key=_DAYS_KEY)
        chosen = st.multiselect(
            "Models",
            options=models,
            key=_MODELS_KEY,
            placeholder="All models",
            help="Your own messages have no model: with a model filter, only replies are counted.",
        )
        title_words = st.text_input("Title contains", key="filter_title", placeholder="e.g. tax")
    return filter_usage(days, chosen, title_words, first_day=first_day, last_day=last_day)


# Headline --------------------------------------------------------------------------------


def headline_figures(totals: Totals, usage_filter: UsageFilter) -> list[list[tuple[str, str, str]]]:
    """Rows of (label, value, help) for the headline metrics: money, caveats and counts, tokens."""
    average = totals.average_cost_per_reply
    messages_help = (
        "replies of the chosen models (your own messages have no model)."
        if usage_filter.replies_only
        else "your messages and the replies."
    )
    money = [
        (
            "Total cost",
            format_usd(totals.cost),
            f"Exactly \\${usd_text(totals.cost)}, for {totals.priced_replies:,} replies with a known price. "
            "Replies without a known price are counted apart, never as \\$0.",
        ),
        (
            "Average per reply",
            format_usd(average),
            "The total cost divided by the replies with a known price."
            + (f" Exactly \\${usd_text(average)}." if average is not None else ""),
        ),
        (
            "Prompt caching saved",
            format_usd(totals.caching_saved),
            "The cached tokens priced at the full input rate, minus what they cost. "
            f"Exactly \\${usd_text(totals.caching_saved)}.",
        ),
    ]
    caveats_and_counts = [
        (
            "Estimated (in total)",
            format_usd(totals.estimated_cost),
            f"{totals.estimated_replies:,} replies came without usage from the provider (or were "
            "stopped): their tokens are estimated at about 4 characters each, and so is their cost. "
            f"Exactly \\${usd_text(totals.estimated_cost)}.",
        ),
        (
            "Unknown price (not in total)",
            format_count(totals.unpriced_replies),
            f"{totals.unpriced_replies:,} replies from a model with no known price: their tokens are "
            "counted, their cost is not.",
        ),
        ("Messages", format_count(totals.messages), f"{totals.messages:,}: {messages_help}"),
        ("Sessions", format_count(totals.sessions), f"{totals.sessions:,} chats with at least one counted message."),
    ]
    tokens = [
        ("Prompt tokens", format_count(totals.prompt_tokens), f"{totals.prompt_tokens:,} sent, cached ones included."),
        ("Cached tokens", format_count(totals.cached_tokens), f"{totals.cached_tokens:,} of the prompt tokens."),
        (
            "Completion tokens",
            format_count(totals.completion_tokens),
            f"{totals.completion_tokens:,} received, reasoning included.",
        ),
    ]
    return [money, caveats_and_counts, tokens]


# Relative widths per headline row: the caveats' labels are the longest.
_HEADLINE_WIDTHS = ([1, 1, 1], [1.4, 1.4, 1, 1], [1, 1, 1])


def render_headline(totals: Totals, usage_filter: UsageFilter) -> None:
    for widths, row in zip(_HEADLINE_WIDTHS, headline_figures(totals, usage_filter), strict=True):
        for column, (label, value, help_text) in zip(st.columns(widths), row, strict=True):
            column.metric(label, value, help=help_text, border=True)


def render_forecast_accuracy(accuracy: ForecastAccuracy) -> None:
    """How far the forecasts shown before sending were from what the replies cost."""
    if accuracy.replies == 0 or accuracy.relative_error is None:
        st.caption("Forecast accuracy: no reply with both a forecast and a known price yet.")
        return
    st.caption(
        escape_dollars(
            f"Forecast accuracy over {accuracy.replies:,} replies: forecast {format_usd(accuracy.forecast)}, "
            f"actual {format_usd(accuracy.actual)}; off by {accuracy.relative_error:.0%} of the actual cost "
            f"({format_usd(accuracy.mean_absolute_error)} per reply on average)."
        )
    )


# Charts ----------------------------------------------------------------------------------


def render_charts(report: UsageReport) -> None:
    per_session, per_day, per_model, in_out = st.tabs(["Per session", "Per day", "Per model", "Tokens in vs out"])
    with per_session:
        st.plotly_chart(build_session_cost_chart(report.sessions), key="chart_sessions")
    with per_day:
        measure = st.segmented_control("Show", ["Cost", "Tokens"], default="Cost", key="daily_measure")
        st.plotly_chart(
            build_daily_chart(report.daily, measure="tokens" if measure == "Tokens" else "cost"), key="chart_days"
        )
    with per_model:
        st.plotly_chart(build_model_cost_chart(report.models), key="chart_models")
    with in_out:
        st.plotly_chart(build_tokens_in_out_chart(report.sessions), key="chart_in_out")
        st.caption("One point per session. Every reply resends the whole chat, so long chats drift right.")
