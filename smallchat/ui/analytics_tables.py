"""The cost analytics page's tables: sessions, one chat's replies, the what-if, and the CSV files.

Costs in these tables are exact decimal text, the same text the CSV files hold: a number
column would be drawn through a float and round $0.00000059 away.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from smallchat.analytics import (
    DataVersion,
    UsageFilter,
    UsageReport,
    messages_csv,
    session_messages_csv,
    sessions_csv,
    what_if_costs,
)
from smallchat.config import Settings
from smallchat.errors import SessionNotFound
from smallchat.money import format_usd, usd_text
from smallchat.pricing import list_price_tariff
from smallchat.repository import ChatStore
from smallchat.ui.analytics_view import CHAT_PAGE, chat_link_params, load_session_messages, load_what_if_models
from smallchat.ui.charts import build_cumulative_cost_chart, build_what_if_chart
from smallchat.ui.navigation import SESSION_PARAM
from smallchat.ui.text import escape_dollars, escape_markdown

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


# Sessions table --------------------------------------------------------------------------


def sort_sessions(sessions: pd.DataFrame, sort_label: str) -> pd.DataFrame:
    """The sessions in the chosen order, on exact values (money as Python ints); ties: latest first."""
    column, ascending = SESSION_SORTS[sort_label]
    ties = [key for key in ("last_active", "session_id") if key != column]
    order = [column, *ties]
    directions = [ascending, *(key == "session_id" for key in ties)]
    return sessions.sort_values(order, ascending=directions, kind="stable").reset_index(drop=True)


def build_sessions_table(sessions: pd.DataFrame) -> pd.DataFrame:
    """The sessions as shown: cost as exact decimal text, the same text the CSV file holds."""
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


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def render_sessions_table(
    sessions: pd.DataFrame, usage_filter: UsageFilter, version: DataVersion
) -> tuple[pd.DataFrame, str | None]:
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
        # New data, a new order or a new filter is a new table: a selected row number must not
        # carry over to whatever chat now sits in that row.
        key=f"sessions_{sort_label}_{_digest(usage_filter, version)}",
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
    try:
        title = store.get_session(session_id).title
    except SessionNotFound as error:  # deleted from the chat page a moment ago
        st.info(str(error))
        return
    messages = load_session_messages(database_url, version, session_id, store)
    st.markdown(f"**{escape_markdown(title)}**")
    st.page_link(CHAT_PAGE, label="Open this chat", icon=":material/chat:", query_params=chat_link_params(session_id))
    replies = messages[messages["role"] == "assistant"]
    unpriced = int((replies["cost_status"] == "unknown price").sum())
    total = messages["cumulative_cost"].iloc[-1] if len(messages) else Decimal(0)
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
