"""Where the money goes: the cost analytics page's aggregates, returned as DataFrames.

The page's figures come from one GROUP BY over the messages per UTC day, role, model,
estimated flag and rates (``usage_rollup``). It reads the covering index ``ix_messages_usage``
in its own order, so the database aggregates without sorting and without reading any
message text, and returns a few rows per day. The sessions table comes from the running
totals the chat page keeps on each session (the very numbers its sidebar shows), unless a
date or model filter asks for part of a session: then the same GROUP BY also splits by
session. No query here loads every message.

Money stays exact: the database sums whole picodollars (integers), pandas regroups them as
Python ints (object columns, which cannot overflow or round), and the tables get ``Decimal``
dollars. Nothing here turns money into a float.
"""

from smallchat.analytics.files import messages_csv, session_messages_csv, sessions_csv
from smallchat.analytics.forecasts import ForecastAccuracy, forecast_accuracy
from smallchat.analytics.messages import MESSAGE_COLUMNS, session_messages
from smallchat.analytics.report import (
    SESSION_COLUMNS,
    DataVersion,
    Totals,
    UsageFilter,
    UsageReport,
    data_version,
    usage_report,
    usage_rollup,
    usage_rollup_query,
    utc_day,
)
from smallchat.analytics.what_if import what_if_costs

__all__ = [
    "MESSAGE_COLUMNS",
    "SESSION_COLUMNS",
    "DataVersion",
    "ForecastAccuracy",
    "Totals",
    "UsageFilter",
    "UsageReport",
    "data_version",
    "forecast_accuracy",
    "messages_csv",
    "session_messages",
    "session_messages_csv",
    "sessions_csv",
    "usage_report",
    "usage_rollup",
    "usage_rollup_query",
    "utc_day",
    "what_if_costs",
]
