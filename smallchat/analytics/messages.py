"""One message at a time: a session's replies for the drill-down, and the rows of the messages file."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.sql import Select

from smallchat.analytics.report import REPLY
from smallchat.models import ChatSession, Message
from smallchat.money import from_picodollars

# One session's messages in the drill-down, and the messages CSV file.
MESSAGE_COLUMNS = (
    "message_id",
    "session_id",
    "title",
    "created_at",
    "role",
    "model",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cost",
    "cost_status",
    "complete",
)


def message_rows_query() -> Select[Any]:
    """Messages with their session's title, oldest first."""
    return (
        select(
            Message.id.label("message_id"),
            Message.session_id,
            ChatSession.title,
            Message.created_at,
            Message.role,
            Message.model,
            Message.prompt_tokens,
            Message.cached_tokens,
            Message.completion_tokens,
            Message.reasoning_tokens,
            Message.cost_picodollars,
            Message.usage_estimated,
            Message.complete,
        )
        .join(ChatSession, ChatSession.id == Message.session_id)
        .order_by(Message.id)
    )


def cost_status(role: str, cost_picodollars: int | None, estimated: bool | None) -> str:
    if role != REPLY:
        return ""
    if cost_picodollars is None:
        return "unknown price"
    return "estimated" if estimated else "reported"


def message_values(row: Any) -> dict[str, Any]:
    """One message as the drill-down table and the messages CSV both show it."""
    return {
        "message_id": row.message_id,
        "session_id": row.session_id,
        "title": row.title,
        "created_at": pd.Timestamp(row.created_at),
        "role": row.role,
        "model": row.model or "",
        "prompt_tokens": row.prompt_tokens,
        "cached_tokens": row.cached_tokens,
        "completion_tokens": row.completion_tokens,
        "reasoning_tokens": row.reasoning_tokens,
        "cost": None if row.cost_picodollars is None else from_picodollars(row.cost_picodollars),
        "cost_status": cost_status(row.role, row.cost_picodollars, row.usage_estimated),
        "complete": bool(row.complete),
    }


def session_messages(engine: Engine, session_id: str) -> pd.DataFrame:
    """The session's messages in order, with each reply's cost and the running total so far.

    Token columns are nullable integers (empty on the user's messages); ``cost`` is a Decimal,
    or None for a reply without a known price; ``cumulative_cost`` adds up the priced replies.
    """
    with engine.connect() as connection:
        rows = connection.execute(message_rows_query().where(Message.session_id == session_id)).all()
    records = []
    running = 0
    for row in rows:
        running += row.cost_picodollars or 0
        records.append({**message_values(row), "cumulative_cost": from_picodollars(running)})
    frame = pd.DataFrame.from_records(records, columns=[*MESSAGE_COLUMNS, "cumulative_cost"])
    for column in ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens"):
        frame[column] = frame[column].astype("Int64")
    for column in ("cost", "cumulative_cost"):
        frame[column] = frame[column].astype(object)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame
