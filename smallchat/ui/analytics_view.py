"""The cost analytics page's parts: cached loaders, filters, and the render_* pieces it draws.

The numbers come from ``smallchat.analytics``; this module only caches, arranges and formats
them. Cached aggregates are keyed on the data's version (``data_version``), which every new
message, session, title or reset changes, so this page never shows older numbers than the
chat page.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from smallchat.analytics import (
    DataVersion,
    Totals,
    UsageFilter,
    UsageReport,
    data_version,
    messages_csv,
    session_messages,
    session_messages_csv,
    sessions_csv,
    usage_report,
    what_if_costs,
)
from smallchat.chat import parse_session_id
from smallchat.config import Settings
from smallchat.errors import InvalidInput
from smallchat.money import format_usd, usd_text
from smallchat.pricing import list_price_tariff, list_priced_models
from smallchat.repository import ChatStore
from smallchat.ui.charts import (
    build_cumulative_cost_chart,
    build_daily_chart,
    build_model_cost_chart,
    build_session_cost_chart,
    build_tokens_in_out_chart,
    build_what_if_chart,
)
from smallchat.ui.navigation import SESSION_PARAM, SHOWN_SESSION
from smallchat.ui.text import escape_dollars, escape_markdown, format_tokens

CHAT_PAGE = "app.py"
WHAT_IF_DEFAULTS = ("gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash")
WHAT_IF_MAX_MODELS = 8
TABLE_HEIGHT = 420
# Sort choices for the sessions table: (column, ascending). Sorting happens here, on the exact
# values, because the cost column is exact text (see build_sessions_table).
SESSION_SORTS = {
    "Cost": ("cost_picodollars", False),
    "Messages": ("messages", False),
    "Tokens in": ("prompt_tokens", False),
    "Tokens out": ("completion_tokens", False),
    "Last active": ("last_active", False),
    "Started": ("started", False),
    "Title": ("title", True),
}


# Loaders ---------------------------------------------------------------------------------


def load_version(store: ChatStore) -> DataVersion:
    """The data's fingerprint; read on every run (three indexed look-ups) to key the caches."""
    return data_version(store.engine)


@st.cache_data(show_spinner="Adding up what every message cost…", max_entries=16)
def load_report(database_url: str, version: DataVersion, usage_filter: UsageFilter, _store: ChatStore) -> UsageReport:
    """The aggregates for ``usage_filter``; ``database_url`` and ``version`` only key the cache."""
    return usage_report(_store.engine, usage_filter)


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


def _chat_link_params(session_id: str | None) -> dict[str, str] | None:
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
        query_params=_chat_link_params(session_id),
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
        "Replies of the chosen models (your own messages have no model)."
        if usage_filter.replies_only
        else "Your messages and the replies."
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
            f"{totals.unpriced_replies:,}",
            "Replies from a model with no known price: their tokens are counted, their cost is not.",
        ),
        ("Messages", f"{totals.messages:,}", messages_help),
        ("Sessions", f"{totals.sessions:,}", "Chats with at least one counted message."),
    ]
    tokens = [
        ("Prompt tokens", format_tokens(totals.prompt_tokens), f"{totals.prompt_tokens:,} sent, cached ones included."),
        ("Cached tokens", format_tokens(totals.cached_tokens), f"{totals.cached_tokens:,} of the prompt tokens."),
        (
            "Completion tokens",
            format_tokens(totals.completion_tokens),
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


# Sessions table --------------------------------------------------------------------------


def sort_sessions(sessions: pd.DataFrame, sort_label: str) -> pd.DataFrame:
    """The sessions in the chosen order, on exact values (money as Python ints)."""
    column, ascending = SESSION_SORTS[sort_label]
    order = [column, "session_id"] if column != "session_id" else [column]
    return sessions.sort_values(order, ascending=[ascending, True], kind="stable").reset_index(drop=True)


def build_sessions_table(sessions: pd.DataFrame) -> pd.DataFrame:
    """The sessions as shown: cost as exact decimal text, the same text the CSV file holds.

    Exact text rather than a number column: the grid would draw a number through a float and
    round $0.00000059 away.
    """
    return pd.DataFrame(
        {
            "Title": sessions["title"],
            # Relative, so it also works when the app is served under a path prefix.
            "Chat": [f"./?{SESSION_PARAM}={session_id}" for session_id in sessions["session_id"]],
            "Messages": sessions["messages"],
            "Tokens in": sessions["prompt_tokens"],
            "Cached": sessions["cached_tokens"],
            "Tokens out": sessions["completion_tokens"],
            "Cost (USD)": [usd_text(cost) for cost in sessions["cost"]],
            "No price": sessions["unpriced_replies"],
            "Estimated": sessions["estimated_replies"],
            "Started": sessions["started"],
            "Last active": sessions["last_active"],
        }
    )


_SESSIONS_COLUMN_CONFIG = {
    "Title": st.column_config.TextColumn(width="medium", pinned=True),
    "Messages": st.column_config.NumberColumn(format="localized"),
    "Tokens in": st.column_config.NumberColumn(format="localized", help="Prompt tokens, cached ones included"),
    "Cached": st.column_config.NumberColumn(format="localized", help="Prompt tokens served from the cache"),
    "Tokens out": st.column_config.NumberColumn(format="localized", help="Completion tokens, reasoning included"),
    "Cost (USD)": st.column_config.TextColumn(
        alignment="right", help="Exact, to the picodollar; replies without a known price are not in it"
    ),
    "No price": st.column_config.NumberColumn(help="Replies whose model has no known price"),
    "Estimated": st.column_config.NumberColumn(help="Replies whose tokens (and cost) are estimated"),
    "Started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", help="UTC"),
    "Last active": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", help="UTC"),
    "Chat": st.column_config.LinkColumn(
        display_text=":material/open_in_new:", width="small", help="Open this session in the chat page"
    ),
}


def _digest(usage_filter: UsageFilter) -> str:
    return hashlib.sha256(repr(usage_filter).encode()).hexdigest()[:12]


def render_sessions_table(sessions: pd.DataFrame, usage_filter: UsageFilter) -> tuple[pd.DataFrame, str | None]:
    """The sortable sessions table; returns the sessions in the order shown and the selected one."""
    heading, sort_column = st.columns([3, 1], vertical_alignment="bottom")
    heading.subheader("Sessions", anchor=False)
    sort_label = sort_column.selectbox("Sort by", list(SESSION_SORTS), key="sessions_sort")
    shown = sort_sessions(sessions, sort_label)
    event = st.dataframe(
        build_sessions_table(shown),
        column_config=_SESSIONS_COLUMN_CONFIG,
        hide_index=True,
        height=TABLE_HEIGHT,
        on_select="rerun",
        selection_mode="single-row",
        # A new order or filter is a new table: a selected row number must not carry over.
        key=f"sessions_{sort_label}_{_digest(usage_filter)}",
    )
    st.caption("Select a row to see that chat reply by reply below.")
    rows = event.selection.rows
    return shown, (str(shown["session_id"].iloc[rows[0]]) if rows else None)


def render_exports(store: ChatStore, shown_sessions: pd.DataFrame, usage_filter: UsageFilter) -> None:
    left, right = st.columns(2)
    left.download_button(
        "Sessions (CSV)",
        data=sessions_csv(shown_sessions),
        file_name="smallchat-sessions.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key="download_sessions",
        help="The table above, row for row; costs as exact decimals.",
    )
    right.download_button(
        "Messages (CSV)",
        # Built only when asked for: with a million messages it is a large file.
        data=lambda: messages_csv(store.engine, usage_filter),
        file_name="smallchat-messages.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key="download_messages",
        help="Every counted message with its tokens and exact cost.",
    )


# Drill-down ------------------------------------------------------------------------------


def build_messages_table(messages: pd.DataFrame) -> pd.DataFrame:
    """One chat's messages as shown: exact cost text, "unknown price" where there is none."""
    return pd.DataFrame(
        {
            "Time": messages["created_at"],
            "Role": messages["role"].map({"user": "You", "assistant": "Reply"}),
            "Model": messages["model"],
            "Tokens in": messages["prompt_tokens"],
            "Cached": messages["cached_tokens"],
            "Tokens out": messages["completion_tokens"],
            "Cost (USD)": [
                "unknown price" if status == "unknown price" else ("" if cost is None else usd_text(cost))
                for cost, status in zip(messages["cost"], messages["cost_status"], strict=True)
            ],
            "Cost so far (USD)": [usd_text(total) for total in messages["cumulative_cost"]],
            "Note": [
                ", ".join(
                    part
                    for part in ("estimated" if status == "estimated" else "", "" if complete else "incomplete")
                    if part
                )
                for status, complete in zip(messages["cost_status"], messages["complete"], strict=True)
            ],
        }
    )


_MESSAGES_COLUMN_CONFIG = {
    "Time": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss", help="UTC"),
    "Tokens in": st.column_config.NumberColumn(format="localized"),
    "Cached": st.column_config.NumberColumn(format="localized"),
    "Tokens out": st.column_config.NumberColumn(format="localized"),
    "Cost (USD)": st.column_config.TextColumn(alignment="right"),
    "Cost so far (USD)": st.column_config.TextColumn(alignment="right"),
}


def render_drilldown(store: ChatStore, database_url: str, version: DataVersion, session_id: str | None) -> None:
    st.subheader("One chat, reply by reply", anchor=False)
    if session_id is None:
        st.info(
            "Select a session in the table above to see how each reply added to its cost.", icon=":material/touch_app:"
        )
        return
    messages = load_session_messages(database_url, version, session_id, store)
    title = store.get_session(session_id).title
    st.markdown(f"**{escape_markdown(title)}**")
    st.page_link(CHAT_PAGE, label="Open this chat", icon=":material/chat:", query_params=_chat_link_params(session_id))
    replies = messages[messages["role"] == "assistant"]
    unpriced = int((replies["cost_status"] == "unknown price").sum())
    total = messages["cumulative_cost"].iloc[-1] if len(messages) else None
    summary = f"{len(replies):,} replies · {format_usd(total)} in all"
    if unpriced:
        summary += f" · {unpriced:,} without a known price (not in the total)"
    st.caption(escape_dollars(summary))
    if len(replies):
        st.plotly_chart(build_cumulative_cost_chart(messages), key="chart_drilldown")
        st.caption(
            "Each reply resends the whole chat so far: the prompt grows, and so does what every next reply costs."
        )
    st.dataframe(
        build_messages_table(messages),
        column_config=_MESSAGES_COLUMN_CONFIG,
        hide_index=True,
        height=min(TABLE_HEIGHT, 36 * (len(messages) + 1) + 3),
        placeholder="–",
        key="drilldown_messages",
    )
    st.download_button(
        "This chat's messages (CSV)",
        data=session_messages_csv(messages),
        file_name=f"smallchat-session-{session_id}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key="download_session_messages",
    )


# What-if ---------------------------------------------------------------------------------


def what_if_options(report: UsageReport, settings: Settings) -> list[str]:
    """Models the what-if can price: genai-prices' by name, and the ones used here by URL too."""
    options = set(load_what_if_models())
    options.update(
        model for model in report.models["model"] if list_price_tariff(model, base_url=settings.base_url) is not None
    )
    return sorted(options)


def build_what_if_table(what_if: pd.DataFrame) -> pd.DataFrame:
    """The what-if as shown: exact cost text, the difference with its sign, and the rates used."""

    def rates(row: Any) -> str:
        if row.input_per_mtok is None:
            return ""
        return " / ".join(
            usd_text(rate) for rate in (row.input_per_mtok, row.cached_input_per_mtok, row.output_per_mtok)
        )

    return pd.DataFrame(
        {
            "Model": what_if["model"],
            "Cost (USD)": ["no list price" if cost is None else usd_text(cost) for cost in what_if["cost"]],
            "vs recorded": [
                ""
                if difference is None or model == "Recorded"
                else ("+" if difference > 0 else "") + usd_text(difference)
                for model, difference in zip(what_if["model"], what_if["difference"], strict=True)
            ],
            "Rates per 1M": [rates(row) for row in what_if.itertuples()],
        }
    )


def render_what_if(report: UsageReport, settings: Settings) -> None:
    st.subheader("What if", anchor=False)
    st.caption(
        "The same tokens priced at other models' list prices (genai-prices), beside what was "
        "recorded. Tiered prices use their base tier."
    )
    options = what_if_options(report, settings)
    chosen = st.multiselect(
        "Models to compare",
        options=options,
        default=[model for model in WHAT_IF_DEFAULTS if model in options],
        max_selections=WHAT_IF_MAX_MODELS,
        key="what_if_models",
    )
    what_if = what_if_costs(report.models, chosen, base_url=settings.base_url)
    if report.totals.unpriced_replies:
        st.caption(
            f"The recorded cost leaves out {report.totals.unpriced_replies:,} replies without a known price; "
            "the what-if prices their tokens too."
        )
    table, chart = st.columns([6, 5])
    table.dataframe(
        build_what_if_table(what_if),
        hide_index=True,
        key="what_if_table",
        column_config={
            "Cost (USD)": st.column_config.TextColumn(alignment="right"),
            "vs recorded": st.column_config.TextColumn(alignment="right"),
            "Rates per 1M": st.column_config.TextColumn(help="USD per 1M tokens: input / cached input / output"),
        },
    )
    with chart:
        st.plotly_chart(build_what_if_chart(what_if), key="chart_what_if")
