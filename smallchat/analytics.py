"""Where the money goes: aggregate queries for the cost analytics page, returned as DataFrames.

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

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Date, Engine, String, func, select, type_coerce
from sqlalchemy.sql import ColumnElement, Select

from smallchat.models import ChatSession, Message
from smallchat.money import from_picodollars, usd_text
from smallchat.pricing import TOKENS_PER_RATE_UNIT, list_price_tariff
from smallchat.usage import TokenUsage

REPLY = "assistant"
PICODOLLAR = Decimal(1).scaleb(-12)
# The sessions table: the columns shown, in order; the CSV file has the same columns.
SESSION_COLUMNS = (
    "title",
    "messages",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "cost",
    "unpriced_replies",
    "estimated_replies",
    "started",
    "last_active",
    "session_id",
)
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
CSV_CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class UsageFilter:
    """What to count: UTC days (inclusive), reply models, and words in the session title."""

    first_day: date | None = None
    last_day: date | None = None
    models: tuple[str, ...] = ()
    title_contains: str = ""

    @property
    def splits_sessions(self) -> bool:
        """Whether only part of a session's messages may count (so its running totals cannot)."""
        return self.first_day is not None or self.last_day is not None or bool(self.models)

    @property
    def replies_only(self) -> bool:
        """The user's own messages have no model, so a model filter leaves only replies."""
        return bool(self.models)


@dataclass(frozen=True)
class DataVersion:
    """Changes whenever a message, a session, a title or a reset changes what the page shows."""

    sessions: int
    last_session_update: str | None
    last_message_id: int | None

    @property
    def empty(self) -> bool:
        return self.last_message_id is None


@dataclass(frozen=True)
class Totals:
    """The headline figures. ``cost`` adds the priced replies; unknown prices are counted apart."""

    cost: Decimal
    estimated_cost: Decimal
    caching_saved: Decimal
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    messages: int
    replies: int
    unpriced_replies: int
    estimated_replies: int
    sessions: int

    @property
    def priced_replies(self) -> int:
        return self.replies - self.unpriced_replies

    @property
    def average_cost_per_reply(self) -> Decimal | None:
        """Mean cost of the replies with a known price, to the picodollar; None without any."""
        if self.priced_replies == 0:
            return None
        return (self.cost / self.priced_replies).quantize(PICODOLLAR)


@dataclass(frozen=True)
class UsageReport:
    """Everything the page shows for one filter."""

    totals: Totals
    # SESSION_COLUMNS, then cost_picodollars (to sort by); costliest first.
    sessions: pd.DataFrame = field(repr=False)
    # day, model, replies, tokens, unpriced and estimated replies, cost: per UTC day and model.
    daily: pd.DataFrame = field(repr=False)
    # The same per model, costliest first.
    models: pd.DataFrame = field(repr=False)
    # The first and last UTC day with a counted message; None when nothing is counted.
    first_day: date | None = None
    last_day: date | None = None


# Queries ----------------------------------------------------------------------------------


def utc_day(column: Any) -> ColumnElement[date]:
    """The UTC calendar day of a stored (naive UTC) timestamp.

    ``date(x)`` is the spelling SQLite and PostgreSQL both accept, and it must stay the
    ``ix_messages_usage`` expression for the index to serve day filters and groups.
    """
    return func.date(column, type_=Date)


def data_version(engine: Engine) -> DataVersion:
    """A cheap fingerprint of the data (three indexed look-ups), to key cached aggregates on."""
    query = select(
        select(func.count()).select_from(ChatSession).scalar_subquery(),
        # Raw text: it is only compared for equality.
        select(type_coerce(func.max(ChatSession.updated_at), String)).scalar_subquery(),
        select(func.max(Message.id)).scalar_subquery(),
    )
    with engine.connect() as connection:
        sessions, last_update, last_message_id = connection.execute(query).one()
    return DataVersion(sessions, None if last_update is None else str(last_update), last_message_id)


def _matching_sessions(words: str) -> Select[Any]:
    return select(ChatSession.id).where(ChatSession.title.icontains(words.strip(), autoescape=True))


def _filtered(query: Select[Any], usage_filter: UsageFilter) -> Select[Any]:
    day = utc_day(Message.created_at)
    if usage_filter.first_day is not None:
        query = query.where(day >= usage_filter.first_day)
    if usage_filter.last_day is not None:
        query = query.where(day <= usage_filter.last_day)
    if usage_filter.models:
        query = query.where(Message.model.in_(usage_filter.models))
    if usage_filter.title_contains.strip():
        query = query.where(Message.session_id.in_(_matching_sessions(usage_filter.title_contains)))
    return query


def usage_rollup_query(usage_filter: UsageFilter, *, per_session: bool = False) -> Select[Any]:
    """The GROUP BY behind the page; its keys are the index's leading columns, in order."""
    keys: list[ColumnElement[Any]] = [
        # The day as the database's own text (a date on PostgreSQL), parsed by pandas at once.
        type_coerce(utc_day(Message.created_at), String).label("day"),
        Message.role,
        Message.model,
        Message.usage_estimated,
        # Rates as their stored text: only their few distinct pairs become Decimals.
        type_coerce(Message.input_per_mtok, String).label("input_per_mtok"),
        type_coerce(Message.cached_input_per_mtok, String).label("cached_input_per_mtok"),
    ]
    if per_session:
        keys.append(Message.session_id)
    query = select(
        *keys,
        func.count().label("messages"),
        func.count(Message.cost_picodollars).label("priced"),
        func.coalesce(func.sum(Message.prompt_tokens), 0).label("prompt_tokens"),
        func.coalesce(func.sum(Message.cached_tokens), 0).label("cached_tokens"),
        func.coalesce(func.sum(Message.completion_tokens), 0).label("completion_tokens"),
        # COALESCE: a group of unpriced replies sums to NULL, which pandas would make a float NaN.
        func.coalesce(func.sum(Message.cost_picodollars), 0).label("cost_picodollars"),
    ).group_by(*keys)
    return _filtered(query, usage_filter)


# Counts and tokens as int64; everything else stays as Python objects, money included: Python
# ints are exact at any size, where int64 would wrap past $9.2 million.
_ROLLUP_DTYPES = dict.fromkeys(("messages", "priced", "prompt_tokens", "cached_tokens", "completion_tokens"), "int64")
_SESSION_DTYPES = {
    **dict.fromkeys(("messages", "prompt_tokens", "cached_tokens", "completion_tokens"), "int64"),
    **dict.fromkeys(("unpriced_replies", "estimated_replies"), "int64"),
}


def usage_rollup(engine: Engine, usage_filter: UsageFilter, *, per_session: bool = False) -> pd.DataFrame:
    """Counts, tokens and cost per UTC day, role, model, estimated flag and rates (and session)."""
    with engine.connect() as connection:
        rollup = _frame(connection.execute(usage_rollup_query(usage_filter, per_session=per_session)), _ROLLUP_DTYPES)
    is_reply = rollup["role"] == REPLY
    estimated = is_reply & rollup["usage_estimated"].isin([True])
    rollup["replies"] = rollup["messages"].where(is_reply, 0)
    rollup["unpriced_replies"] = (rollup["messages"] - rollup["priced"]).where(is_reply, 0)
    rollup["estimated_replies"] = rollup["messages"].where(estimated, 0)
    rollup["estimated_cost_picodollars"] = rollup["cost_picodollars"].where(estimated, 0)
    return rollup


def _session_query(usage_filter: UsageFilter) -> Select[Any]:
    query = select(
        ChatSession.id.label("session_id"),
        ChatSession.title,
        # Text on SQLite, datetimes on PostgreSQL: pandas parses either, all at once.
        type_coerce(ChatSession.created_at, String).label("started"),
        type_coerce(ChatSession.updated_at, String).label("last_active"),
        ChatSession.message_count.label("messages"),
        ChatSession.prompt_tokens,
        ChatSession.cached_tokens,
        ChatSession.completion_tokens,
        ChatSession.cost_picodollars,
        ChatSession.unpriced_replies,
        ChatSession.estimated_replies,
    ).where(ChatSession.message_count > 0)
    if usage_filter.title_contains.strip():
        query = query.where(ChatSession.id.in_(_matching_sessions(usage_filter.title_contains)))
    # The table's order, costliest first; the database sorts integers faster than pandas
    # sorts exact (object) money.
    return query.order_by(ChatSession.cost_picodollars.desc(), ChatSession.updated_at.desc(), ChatSession.id)


def _frame(result: Any, dtypes: dict[str, Any]) -> pd.DataFrame:
    """A query result as a DataFrame, column by column with the types known up front.

    Letting pandas probe each Row object, or turn text into Arrow strings, would cost as much
    as the query itself. Columns not in ``dtypes`` stay Python objects.
    """
    names = list(result.keys())
    rows = result.all()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pd.DataFrame(
        {name: pd.Series(values, dtype=dtypes.get(name, object)) for name, values in zip(names, columns, strict=True)}
    )


def _session_rows(engine: Engine, usage_filter: UsageFilter) -> pd.DataFrame:
    """The sessions with messages, with the running totals the chat page keeps and shows."""
    with engine.connect() as connection:
        frame = _frame(connection.execute(_session_query(usage_filter)), _SESSION_DTYPES)
    for column in ("started", "last_active"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


# The report ------------------------------------------------------------------------------

_COUNTS = (
    "messages",
    "replies",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "unpriced_replies",
    "estimated_replies",
)
# Money columns hold Python ints (object dtype), which pandas adds as Python ints: exact,
# with no int64 ceiling and no float on the way.
_MONEY = ("cost_picodollars", "estimated_cost_picodollars")
_BY_DAY_KEYS = ["day", "role", "model", "usage_estimated", "input_per_mtok", "cached_input_per_mtok"]


def usage_report(engine: Engine, usage_filter: UsageFilter | None = None) -> UsageReport:
    """Headline totals, the sessions table and the per-day and per-model frames for ``usage_filter``."""
    usage_filter = usage_filter or UsageFilter()
    sessions = _session_rows(engine, usage_filter)
    if usage_filter.splits_sessions:
        rollup = usage_rollup(engine, usage_filter, per_session=True)
        sessions = _sessions_from_rollup(rollup, sessions)
        # dropna=False: user messages have no model, estimated flag or rates, and still count.
        by_day = rollup.groupby(_BY_DAY_KEYS, sort=False, dropna=False)[[*_COUNTS, *_MONEY]].sum().reset_index()
    else:
        by_day = usage_rollup(engine, usage_filter)
    daily = _daily_frame(by_day)
    days = pd.to_datetime(by_day["day"], format="ISO8601")
    return UsageReport(
        totals=_totals(by_day, sessions=len(sessions)),
        sessions=_with_dollars(sessions)[[*SESSION_COLUMNS, "cost_picodollars"]],
        daily=daily,
        models=_models_frame(daily),
        first_day=days.min().date() if len(days) else None,
        last_day=days.max().date() if len(days) else None,
    )


def _sessions_from_rollup(rollup: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Per-session sums of the counted messages, with each session's title and dates, costliest first."""
    summed = rollup.groupby("session_id", sort=False)[[*_COUNTS, *_MONEY]].sum()
    details = sessions.set_index("session_id")[["title", "started", "last_active"]]
    frame = summed.join(details, how="inner").reset_index()
    frame["session_id"] = frame["session_id"].astype(object)
    order = ["cost_picodollars", "last_active", "session_id"]
    return frame.sort_values(order, ascending=[False, False, True], kind="stable").reset_index(drop=True)


def _totals(by_day: pd.DataFrame, *, sessions: int) -> Totals:
    counts = {column: int(by_day[column].sum()) for column in _COUNTS}
    return Totals(
        cost=from_picodollars(int(by_day["cost_picodollars"].sum())),
        estimated_cost=from_picodollars(int(by_day["estimated_cost_picodollars"].sum())),
        caching_saved=_caching_saved(by_day),
        sessions=sessions,
        **counts,
    )


def _caching_saved(by_day: pd.DataFrame) -> Decimal:
    """What the cached tokens would have cost at the full input rate, minus what they cost."""
    priced = by_day[by_day["input_per_mtok"].notna() & (by_day["cached_tokens"] > 0)]
    by_rates = priced.groupby(["input_per_mtok", "cached_input_per_mtok"])["cached_tokens"].sum()
    saved = Decimal(0)
    for (input_rate, cached_rate), cached_tokens in by_rates.items():
        saved += int(cached_tokens) * (Decimal(input_rate) - Decimal(cached_rate))
    return saved / TOKENS_PER_RATE_UNIT


def _with_dollars(frame: pd.DataFrame) -> pd.DataFrame:
    frame["cost"] = frame["cost_picodollars"].map(from_picodollars).astype(object)
    return frame


def _daily_frame(by_day: pd.DataFrame) -> pd.DataFrame:
    """Replies per UTC day and model."""
    replies = by_day[by_day["role"] == REPLY]
    frame = replies.groupby(["day", "model"])[[*_COUNTS[1:], *_MONEY]].sum().reset_index()
    frame["day"] = pd.to_datetime(frame["day"], format="ISO8601")
    return _with_dollars(frame)


def _models_frame(daily: pd.DataFrame) -> pd.DataFrame:
    """Replies per model, costliest first."""
    frame = daily.groupby("model")[[*_COUNTS[1:], *_MONEY]].sum().reset_index()
    frame = frame.sort_values(["cost_picodollars", "model"], ascending=[False, True], kind="stable")
    return _with_dollars(frame).reset_index(drop=True)


# One session, message by message ---------------------------------------------------------


def _message_rows_query() -> Select[Any]:
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


def _cost_status(role: str, cost_picodollars: int | None, estimated: bool | None) -> str:
    if role != REPLY:
        return ""
    if cost_picodollars is None:
        return "unknown price"
    return "estimated" if estimated else "reported"


def _message_values(row: Any) -> dict[str, Any]:
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
        "cost_status": _cost_status(row.role, row.cost_picodollars, row.usage_estimated),
        "complete": bool(row.complete),
    }


def session_messages(engine: Engine, session_id: str) -> pd.DataFrame:
    """The session's messages in order, with each reply's cost and the running total so far.

    Token columns are nullable integers (empty on the user's messages); ``cost`` is a Decimal,
    or None for a reply without a known price; ``cumulative_cost`` adds up the priced replies.
    """
    with engine.connect() as connection:
        rows = connection.execute(_message_rows_query().where(Message.session_id == session_id)).all()
    records = []
    running = 0
    for row in rows:
        running += row.cost_picodollars or 0
        records.append({**_message_values(row), "cumulative_cost": from_picodollars(running)})
    frame = pd.DataFrame.from_records(records, columns=[*MESSAGE_COLUMNS, "cumulative_cost"])
    for column in ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens"):
        frame[column] = frame[column].astype("Int64")
    for column in ("cost", "cumulative_cost"):
        frame[column] = frame[column].astype(object)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


# What-if ---------------------------------------------------------------------------------


def what_if_costs(models: pd.DataFrame, candidates: Sequence[str], *, base_url: str | None = None) -> pd.DataFrame:
    """The same tokens priced at other models' list prices (genai-prices), beside what was recorded.

    All replies' tokens are priced, those without a recorded price included. Tiered prices
    use their base tier: the totals no longer say how large each single request was.
    """
    usage = TokenUsage(
        prompt=int(models["prompt_tokens"].sum()),
        cached=int(models["cached_tokens"].sum()),
        completion=int(models["completion_tokens"].sum()),
    )
    recorded = from_picodollars(int(models["cost_picodollars"].sum()))
    rows: list[dict[str, Any]] = [
        {
            "model": "Recorded",
            "input_per_mtok": None,
            "cached_input_per_mtok": None,
            "output_per_mtok": None,
            "cost": recorded,
            "difference": Decimal(0),
            "source": "what each reply cost when it was sent",
        }
    ]
    for candidate in candidates:
        tariff = list_price_tariff(candidate, base_url=base_url)
        cost = None if tariff is None else tariff.cost(usage).quantize(Decimal(1).scaleb(-12))
        rows.append(
            {
                "model": candidate,
                "input_per_mtok": None if tariff is None else tariff.input_per_mtok,
                "cached_input_per_mtok": None if tariff is None else tariff.cached_input_per_mtok,
                "output_per_mtok": None if tariff is None else tariff.output_per_mtok,
                "cost": cost,
                "difference": None if cost is None else cost - recorded,
                "source": "no list price known" if tariff is None else tariff.source,
            }
        )
    return pd.DataFrame(rows).astype(object)


# CSV files -------------------------------------------------------------------------------


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
    query = _filtered(_message_rows_query(), usage_filter or UsageFilter())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_csv_header(MESSAGE_COLUMNS))
    with engine.connect() as connection:
        for row in connection.execution_options(yield_per=CSV_CHUNK_ROWS).execute(query):
            values = _message_values(row)
            writer.writerow([_csv_value(values[column]) for column in MESSAGE_COLUMNS])
    return out.getvalue().encode("utf-8")
