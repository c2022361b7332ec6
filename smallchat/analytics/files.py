"""CSV files of the page's tables: money as exact decimal text, never through a float."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from smallchat.analytics.messages import MESSAGE_COLUMNS, message_rows_query, message_values
from smallchat.analytics.report import SESSION_COLUMNS, UsageFilter, filtered
from smallchat.money import usd_text

# Rows fetched at a time for the messages file: it may hold every message there is.
CSV_CHUNK_ROWS = 5_000


def _csv_value(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, Decimal):
        return usd_text(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _csv_header(columns: Sequence[str]) -> list[str]:
    # Say the unit where a bare number would leave it open.
    return ["cost_usd" if column == "cost" else column for column in columns]


def frame_to_csv(frame: pd.DataFrame, columns: Sequence[str]) -> bytes:
    """``columns`` of ``frame`` as UTF-8 CSV; money as exact decimal text (``0.00000059``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_csv_header(columns))
    for row in frame[list(columns)].itertuples(index=False, name=None):
        writer.writerow([_csv_value(value) for value in row])
    return out.getvalue().encode("utf-8")


def sessions_csv(sessions: pd.DataFrame) -> bytes:
    """The sessions table, row for row and column for column as the page shows it."""
    return frame_to_csv(sessions, SESSION_COLUMNS)


def session_messages_csv(messages: pd.DataFrame) -> bytes:
    """One session's messages, as the drill-down table shows them."""
    return frame_to_csv(messages, MESSAGE_COLUMNS)


def messages_csv(engine: Engine, usage_filter: UsageFilter | None = None) -> bytes:
    """Every message the filter counts, one row each, read from the database in chunks."""
    query = filtered(message_rows_query(), usage_filter or UsageFilter())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_csv_header(MESSAGE_COLUMNS))
    with engine.connect() as connection:
        for row in connection.execution_options(yield_per=CSV_CHUNK_ROWS).execute(query):
            values = message_values(row)
            writer.writerow([_csv_value(values[column]) for column in MESSAGE_COLUMNS])
    return out.getvalue().encode("utf-8")
