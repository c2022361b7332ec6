"""SmallChat: cost analytics — where the money goes. UI only; the numbers come from ``smallchat.analytics``."""

from __future__ import annotations

import streamlit as st

from smallchat.analytics import UsageFilter
from smallchat.ui.analytics_tables import render_drilldown, render_exports, render_sessions_table, render_what_if
from smallchat.ui.analytics_view import (
    current_session_id,
    load_forecast_accuracy,
    load_report,
    load_version,
    render_back_link,
    render_charts,
    render_empty_state,
    render_filters,
    render_forecast_accuracy,
    render_header,
    render_headline,
)
from smallchat.ui.navigation import SESSION_PARAM
from smallchat.ui.resources import load_settings_or_stop, load_store_or_stop

st.set_page_config(page_title="Cost analytics · SmallChat", page_icon="📊", layout="wide")

settings = load_settings_or_stop()
store = load_store_or_stop(settings)
version = load_version(store)
session_id = current_session_id(store)

back_link = render_header()
if version.empty:
    render_back_link(back_link, session_id)
    render_empty_state()
    st.stop()

everything = load_report(settings.database_url, version, UsageFilter(), store)
usage_filter = render_filters(everything)
report = (
    everything if usage_filter == UsageFilter() else load_report(settings.database_url, version, usage_filter, store)
)
if report.totals.messages == 0:
    render_back_link(back_link, session_id)
    st.info("No messages match these filters. Widen the days, or clear the model or title filter.")
    st.stop()

render_headline(report.totals, usage_filter)
render_forecast_accuracy(load_forecast_accuracy(settings.database_url, version, usage_filter, store))
render_charts(report)
shown_sessions, selected = render_sessions_table(report.sessions, usage_filter, version)
render_exports(store, shown_sessions, usage_filter)
if selected is not None and selected != session_id:
    # The chosen chat goes into the URL, so "Back to the chat" returns to it.
    st.query_params[SESSION_PARAM] = selected
    session_id = selected
render_back_link(back_link, session_id)
render_drilldown(store, settings.database_url, version, session_id)
render_what_if(report, settings)
