"""Every query and write of chat sessions and messages: the only module that speaks SQL.

Each public method is one short transaction and returns plain frozen dataclasses, never
live ORM objects, so callers (Streamlit reruns, API requests) can keep them safely.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, overload

from sqlalchemy import (
    Connection,
    Engine,
    String,
    Update,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from smallchat.budget_store import BudgetStore
from smallchat.db import Transactions, storage_errors
from smallchat.errors import SessionNotFound
from smallchat.models import ChatSession, Message, UTCDateTime, utc_now
from smallchat.money import from_picodollars, optional_from_picodollars, to_picodollars
from smallchat.pricing import Tariff
from smallchat.tokens import CHARS_PER_TOKEN, TOKENS_PER_MESSAGE
from smallchat.usage import TokenUsage

DEFAULT_TITLE = "New chat"
SESSION_GONE = "This chat session does not exist: it may have been deleted."
TITLE_MAX_CHARS = 60


@dataclass(frozen=True)
class SessionSummary:
    """A chat session with its running totals."""

    id: str
    title: str
    model: str
    created_at: datetime
    updated_at: datetime
    message_count: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    cost: Decimal
    unpriced_replies: int
    estimated_replies: int
    budget: Decimal | None = None


@dataclass(frozen=True)
class MessageRecord:
    """One stored message; the usage fields are None on user messages."""

    id: int
    session_id: str
    role: str
    content: str
    created_at: datetime
    model: str | None = None
    usage: TokenUsage | None = None
    cost: Decimal | None = None
    pricing_model: str | None = None
    price_source: str | None = None
    input_per_mtok: Decimal | None = None
    cached_input_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None
    usage_estimated: bool = False
    complete: bool = True
    content_tokens: int | None = None
    forecast_prompt_tokens: int | None = None
    forecast_completion_tokens: int | None = None
    forecast_cost: Decimal | None = None


@dataclass(frozen=True)
class NewReply:
    """What the chat use case hands over to be saved for one assistant reply."""

    content: str
    model: str
    usage: TokenUsage
    usage_estimated: bool
    complete: bool
    cost: Decimal | None
    tariff: Tariff | None
    content_tokens: int | None = None
    forecast_prompt_tokens: int | None = None
    forecast_completion_tokens: int | None = None
    forecast_cost: Decimal | None = None


def title_from_message(text: str) -> str:
    """A session title from its first message: the first line, shortened."""
    line = " ".join(text.split())
    if len(line) <= TITLE_MAX_CHARS:
        return line or DEFAULT_TITLE
    return line[: TITLE_MAX_CHARS - 1].rstrip() + "…"


class ChatStore:
    """Reads and writes chat sessions and messages."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._transactions = Transactions(engine)
        self._reading = self._transactions.reading
        self._writing = self._transactions.writing
        self.budgets = BudgetStore(self._transactions)

    @property
    def database_in_process(self) -> bool:
        """True for SQLite, whose work runs in this process; False for a database server."""
        return self.engine.dialect.name == "sqlite"

    # Sessions ---------------------------------------------------------------------------

    def create_session(self, *, model: str, title: str = DEFAULT_TITLE) -> SessionSummary:
        """Create an empty session."""
        now = utc_now()
        row = ChatSession(
            id=str(uuid.uuid4()),
            title=title,
            model=model,
            created_at=now,
            updated_at=now,
            message_count=0,
            prompt_tokens=0,
            cached_tokens=0,
            completion_tokens=0,
            cost_picodollars=0,
            unpriced_replies=0,
            estimated_replies=0,
        )
        with self._writing() as db:
            db.add(row)
        return _session_summary(row)

    # The reads below run for every message sent, before the request leaves for the provider:
    # constant Core statements (compiled once) and rows turned straight into records.

    def get_session(self, session_id: str) -> SessionSummary:
        """The session, or SessionNotFound."""
        with self._transactions.reading_statements() as connection:
            return _read_session(connection, session_id)

    def get_session_with_messages(self, session_id: str) -> tuple[SessionSummary, list[MessageRecord]]:
        """The session and all its messages in order, read together (SessionNotFound if gone)."""
        with self._transactions.reading_statements() as connection:
            session = _read_session(connection, session_id)
            rows = connection.execute(_SELECT_ALL_MESSAGES, {"session": session_id})
            return session, [_message_record(row._mapping) for row in rows]

    def session_exists(self, session_id: str) -> bool:
        with self._reading() as db:
            return db.get(ChatSession, session_id) is not None

    def list_sessions(self, *, limit: int | None = 50, offset: int = 0) -> SessionList:
        """Sessions with their totals, most recently active first."""
        query = (
            select(*_SESSION_COLUMNS_RAW_TIMES)
            .order_by(ChatSession.updated_at.desc(), ChatSession.id)
            .limit(limit)
            .offset(offset)
        )
        with storage_errors(), self.engine.connect() as connection:
            return SessionList(connection.execute(query).all())

    def count_sessions(self) -> int:
        with self._reading() as db:
            return db.scalar(select(func.count()).select_from(ChatSession)) or 0

    def rename_session(self, session_id: str, *, title: str) -> SessionSummary:
        with self._writing() as db:
            row = _require_session(db, session_id)
            row.title = title
            row.updated_at = utc_now()
            return _session_summary(row)

    def reset_session(self, session_id: str) -> SessionSummary:
        """Delete every message of the session; keep its id, title and model."""
        with self._writing() as db:
            row = _require_session(db, session_id)
            db.execute(delete(Message).where(Message.session_id == session_id))
            row.message_count = row.prompt_tokens = row.cached_tokens = row.completion_tokens = 0
            row.cost_picodollars = row.unpriced_replies = row.estimated_replies = 0
            row.updated_at = utc_now()
            return _session_summary(row)

    def delete_session(self, session_id: str) -> None:
        """Delete the session and, through the foreign key, all its messages."""
        with self._writing() as db:
            _require_session(db, session_id)
            db.execute(delete(ChatSession).where(ChatSession.id == session_id))

    # Messages ---------------------------------------------------------------------------

    def add_user_message(self, session_id: str, *, content: str, content_tokens: int | None = None) -> MessageRecord:
        """Save the user's message; the first one also names an untitled session."""
        values = {"role": "user", "content": content, "complete": True, "content_tokens": content_tokens}
        return self._insert_message(
            session_id, values, _COUNT_USER_MESSAGE, {"first_title": title_from_message(content)}
        )

    def add_reply(self, session_id: str, *, reply: NewReply) -> MessageRecord:
        """Save an assistant reply with its usage and cost, and add them to the session's totals."""
        usage = reply.usage
        tariff = reply.tariff
        cost_picodollars = None if reply.cost is None else to_picodollars(reply.cost)
        values = {
            "role": "assistant",
            "content": reply.content,
            "model": reply.model,
            "prompt_tokens": usage.prompt,
            "cached_tokens": usage.cached,
            "completion_tokens": usage.completion,
            "reasoning_tokens": usage.reasoning,
            "cost_picodollars": cost_picodollars,
            "pricing_model": tariff.pricing_model if tariff else None,
            "price_source": tariff.source if tariff else None,
            "input_per_mtok": tariff.input_per_mtok if tariff else None,
            "cached_input_per_mtok": tariff.cached_input_per_mtok if tariff else None,
            "output_per_mtok": tariff.output_per_mtok if tariff else None,
            "usage_estimated": reply.usage_estimated,
            "complete": reply.complete,
            "content_tokens": reply.content_tokens,
            "forecast_prompt_tokens": reply.forecast_prompt_tokens,
            "forecast_completion_tokens": reply.forecast_completion_tokens,
            "forecast_cost_picodollars": None if reply.forecast_cost is None else to_picodollars(reply.forecast_cost),
        }
        totals = {
            "add_prompt": usage.prompt,
            "add_cached": usage.cached,
            "add_completion": usage.completion,
            "add_cost": cost_picodollars or 0,
            "add_unpriced": 1 if cost_picodollars is None else 0,
            "add_estimated": 1 if reply.usage_estimated else 0,
        }
        return self._insert_message(session_id, values, _COUNT_REPLY, totals)

    def _insert_message(
        self, session_id: str, values: dict[str, Any], count_it: Update, count_params: dict[str, Any]
    ) -> MessageRecord:
        """Insert one message and update its session's totals, in one short write transaction.

        Two constant Core statements with parameters: this is on the path to the first streamed
        token and runs for every request of the API, so nothing is rebuilt per call.
        """
        now = utc_now()
        values = {**values, "session_id": session_id, "created_at": now}
        with self._transactions.writing_statements() as connection:
            updated = connection.execute(count_it, {"session": session_id, "now": now, **count_params})
            if updated.rowcount == 0:
                raise SessionNotFound(SESSION_GONE)
            message_id = connection.execute(_INSERT_MESSAGE, values).scalar_one()
        return _message_record({**values, "id": message_id})

    def list_messages(self, session_id: str, *, limit: int | None = None) -> list[MessageRecord]:
        """The session's messages in order; with ``limit``, only the latest ``limit`` of them."""
        with self._transactions.reading_statements() as connection:
            if limit is None:
                rows = connection.execute(_SELECT_ALL_MESSAGES, {"session": session_id}).all()
            else:
                rows = connection.execute(_SELECT_LATEST_MESSAGES, {"session": session_id, "limit": limit}).all()
                rows.reverse()
        return [_message_record(row._mapping) for row in rows]

    def set_session_budget(self, session_id: str, *, budget: Decimal | None) -> SessionSummary:
        """Set (or, with None, clear) the session's own budget."""
        with self._writing() as db:
            row = _require_session(db, session_id)
            row.budget_picodollars = None if budget is None else to_picodollars(budget)
            return _session_summary(row)

    def history_token_counts(self, session_id: str) -> list[int]:
        """Tokens each message adds to a request, oldest first (estimated for rows saved uncounted)."""
        # Read on every rerun of the chat page, for every message of the session: a constant
        # Core statement, no ORM session.
        with self._transactions.reading_statements() as connection:
            counts = connection.execute(_SELECT_TOKEN_COUNTS, {"session": session_id}).scalars()
            return [int(tokens) for tokens in counts]

    def typical_reply_tokens(self, session_id: str) -> int | None:
        """The mean completion tokens of the session's replies, or None before the first reply."""
        with self._transactions.reading_statements() as connection:
            mean = connection.execute(_SELECT_MEAN_REPLY_TOKENS, {"session": session_id}).scalar()
        return None if mean is None else round(float(mean))

    def set_session_model(self, session_id: str, *, model: str) -> SessionSummary:
        with self._writing() as db:
            row = _require_session(db, session_id)
            row.model = model
            return _session_summary(row)


def _require_session(db: Session, session_id: str) -> ChatSession:
    row = db.get(ChatSession, session_id)
    if row is None:
        raise SessionNotFound(SESSION_GONE)
    return row


def _read_session(connection: Connection, session_id: str) -> SessionSummary:
    row = connection.execute(_SELECT_SESSION, {"session": session_id}).first()
    if row is None:
        raise SessionNotFound(SESSION_GONE)
    return _summary_from_values(row)


_INSERT_MESSAGE = insert(Message).returning(Message.id)
_COUNT_USER_MESSAGE = (
    update(ChatSession)
    .where(ChatSession.id == bindparam("session"))
    .values(
        message_count=ChatSession.message_count + 1,
        updated_at=bindparam("now", type_=UTCDateTime),
        # The first message names a session that still has the default title.
        title=case(
            (and_(ChatSession.message_count == 0, ChatSession.title == DEFAULT_TITLE), bindparam("first_title")),
            else_=ChatSession.title,
        ),
    )
)
_COUNT_REPLY = (
    update(ChatSession)
    .where(ChatSession.id == bindparam("session"))
    .values(
        message_count=ChatSession.message_count + 1,
        updated_at=bindparam("now", type_=UTCDateTime),
        prompt_tokens=ChatSession.prompt_tokens + bindparam("add_prompt"),
        cached_tokens=ChatSession.cached_tokens + bindparam("add_cached"),
        completion_tokens=ChatSession.completion_tokens + bindparam("add_completion"),
        cost_picodollars=ChatSession.cost_picodollars + bindparam("add_cost"),
        unpriced_replies=ChatSession.unpriced_replies + bindparam("add_unpriced"),
        estimated_replies=ChatSession.estimated_replies + bindparam("add_estimated"),
    )
)

# The columns of a SessionSummary, in its field order.
_SESSION_COLUMNS = (
    ChatSession.id,
    ChatSession.title,
    ChatSession.model,
    ChatSession.created_at,
    ChatSession.updated_at,
    ChatSession.message_count,
    ChatSession.prompt_tokens,
    ChatSession.cached_tokens,
    ChatSession.completion_tokens,
    ChatSession.cost_picodollars,
    ChatSession.unpriced_replies,
    ChatSession.estimated_replies,
    ChatSession.budget_picodollars,
)
_SELECT_SESSION = select(*_SESSION_COLUMNS).where(ChatSession.id == bindparam("session"))
_MESSAGE_COLUMNS = tuple(Message.__table__.columns)
_SELECT_ALL_MESSAGES = select(*_MESSAGE_COLUMNS).where(Message.session_id == bindparam("session")).order_by(Message.id)
_SELECT_LATEST_MESSAGES = (
    select(*_MESSAGE_COLUMNS)
    .where(Message.session_id == bindparam("session"))
    .order_by(Message.id.desc())
    .limit(bindparam("limit"))
)
# Rows from before token counting was stored fall back to the documented estimate:
# ceil(characters / 4) plus the per-message framing.
_TOKEN_ESTIMATE = (func.length(Message.content) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE
_SELECT_TOKEN_COUNTS = (
    select(func.coalesce(Message.content_tokens, _TOKEN_ESTIMATE))
    .where(Message.session_id == bindparam("session"))
    .order_by(Message.id)
)
_SELECT_MEAN_REPLY_TOKENS = select(func.avg(Message.completion_tokens)).where(
    Message.session_id == bindparam("session"), Message.role == "assistant"
)
# The same, with the two times fetched as the driver gives them: a listing converts only
# the rows that are read (see SessionList).
_SESSION_COLUMNS_RAW_TIMES = tuple(
    type_coerce(column, String).label(column.key) if column.key in ("created_at", "updated_at") else column
    for column in _SESSION_COLUMNS
)


def _utc(value: datetime | str) -> datetime:
    """A stored UTC time (text on SQLite, a naive datetime elsewhere) as an aware datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _summary_from_values(values: Sequence[Any]) -> SessionSummary:
    (sid, title, model, created, updated, count, prompt, cached, completion, cost, unpriced, estimated, budget) = values
    return SessionSummary(
        id=sid,
        title=title,
        model=model,
        created_at=_utc(created),
        updated_at=_utc(updated),
        message_count=count,
        prompt_tokens=prompt,
        cached_tokens=cached,
        completion_tokens=completion,
        cost=from_picodollars(cost),
        unpriced_replies=unpriced,
        estimated_replies=estimated,
        budget=optional_from_picodollars(budget),
    )


def _session_summary(row: ChatSession) -> SessionSummary:
    return _summary_from_values([getattr(row, column.key) for column in _SESSION_COLUMNS])


class SessionList(Sequence[SessionSummary]):
    """Sessions as fetched; each row becomes a SessionSummary when it is first read.

    Listing thousands of sessions then costs what the query costs, and only the rows a
    page shows pay for their conversion.
    """

    def __init__(self, rows: Sequence[Sequence[Any]]) -> None:
        self._rows = rows
        self._summaries: dict[int, SessionSummary] = {}

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> SessionSummary: ...
    @overload
    def __getitem__(self, index: slice) -> list[SessionSummary]: ...

    def __getitem__(self, index: int | slice) -> SessionSummary | list[SessionSummary]:
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self._rows)))]
        position = index + len(self._rows) if index < 0 else index
        if not 0 <= position < len(self._rows):
            raise IndexError(index)
        summary = self._summaries.get(position)
        if summary is None:
            summary = self._summaries[position] = _summary_from_values(self._rows[position])
        return summary


def _message_record(row: Mapping[str, Any]) -> MessageRecord:
    """A record from a ``messages`` row, or from the values just inserted (absent columns are NULL)."""
    usage = None
    if row["role"] == "assistant":
        usage = TokenUsage(
            prompt=row.get("prompt_tokens") or 0,
            completion=row.get("completion_tokens") or 0,
            cached=row.get("cached_tokens") or 0,
            reasoning=row.get("reasoning_tokens") or 0,
        )
    return MessageRecord(
        id=row["id"],
        session_id=row["session_id"],
        role=row["role"],
        content=row["content"],
        created_at=row["created_at"],
        model=row.get("model"),
        usage=usage,
        cost=optional_from_picodollars(row.get("cost_picodollars")),
        pricing_model=row.get("pricing_model"),
        price_source=row.get("price_source"),
        input_per_mtok=row.get("input_per_mtok"),
        cached_input_per_mtok=row.get("cached_input_per_mtok"),
        output_per_mtok=row.get("output_per_mtok"),
        usage_estimated=bool(row.get("usage_estimated")),
        complete=row["complete"],
        content_tokens=row.get("content_tokens"),
        forecast_prompt_tokens=row.get("forecast_prompt_tokens"),
        forecast_completion_tokens=row.get("forecast_completion_tokens"),
        forecast_cost=optional_from_picodollars(row.get("forecast_cost_picodollars")),
    )
