"""The aggregates behind the cost analytics page: one GROUP BY, regrouped into its tables.

The page's figures come from one GROUP BY over the messages per UTC day, role, model,
estimated flag and rates (``usage_rollup``). It reads the covering index ``ix_messages_usage``
in its own order, so the database aggregates without sorting and without reading any
message text, and returns a few rows per day. The sessions table comes from the running
totals the chat page keeps on each session (the very numbers its sidebar shows), unless a
date or model filter asks for part of a session: then the same GROUP BY also splits by
session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Date, Engine, String, func, select, type_coerce
from sqlalchemy.sql import ColumnElement, Select

from smallchat.models import ChatSession, Message
from smallchat.money import from_picodollars
from smallchat.pricing import TOKENS_PER_RATE_UNIT

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


def filtered(query: Select[Any], usage_filter: UsageFilter) -> Select[Any]:
    """``query`` over messages, narrowed to the ones ``usage_filter`` counts."""
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
    return filtered(query, usage_filter)


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
    """The sessions with messages: what the table shows of each, and their running totals.

    When only part of each session counts, the totals come from the messages instead, and
    only the sessions' titles and dates are read here.
    """
    totals = (
        ()
        if usage_filter.splits_sessions
        else (
            ChatSession.message_count.label("messages"),
            ChatSession.prompt_tokens,
            ChatSession.cached_tokens,
            ChatSession.completion_tokens,
            ChatSession.cost_picodollars,
            ChatSession.unpriced_replies,
            ChatSession.estimated_replies,
        )
    )
    query = select(
        ChatSession.id.label("session_id"),
        ChatSession.title,
        # Text on SQLite, datetimes on PostgreSQL: pandas parses either, all at once.
        type_coerce(ChatSession.created_at, String).label("started"),
        type_coerce(ChatSession.updated_at, String).label("last_active"),
        *totals,
    ).where(ChatSession.message_count > 0)
    if usage_filter.title_contains.strip():
        query = query.where(ChatSession.id.in_(_matching_sessions(usage_filter.title_contains)))
    if usage_filter.splits_sessions:
        return query
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
    rollup = usage_rollup(engine, usage_filter, per_session=usage_filter.splits_sessions)
    if usage_filter.splits_sessions:
        sessions = _sessions_from_rollup(rollup, sessions)
        # dropna=False: user messages have no model, estimated flag or rates, and still count.
        by_day = rollup.groupby(_BY_DAY_KEYS, sort=False, dropna=False)[[*_COUNTS, *_MONEY]].sum().reset_index()
    else:
        by_day = rollup
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
    dollars = [from_picodollars(int(value)) for value in frame["cost_picodollars"]]
    frame["cost"] = pd.Series(dollars, index=frame.index, dtype=object)
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
