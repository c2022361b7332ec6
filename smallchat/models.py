"""ORM tables. Money columns hold whole picodollars (see ``smallchat.money``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class DecimalText(TypeDecorator[Decimal]):
    """A rate stored as its exact decimal text: never rounded through a float."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: object) -> str | None:
        return None if value is None else f"{value:f}"

    def process_result_value(self, value: str | None, dialect: object) -> Decimal | None:
        return None if value is None else Decimal(value)


class Base(DeclarativeBase):
    pass


class ChatSession(Base):
    __tablename__ = "chat_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
    # Running totals kept in the same transaction as each message write, so listing
    # sessions never re-adds every message.
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_picodollars: Mapped[int] = mapped_column(BigInteger, default=0)
    unpriced_replies: Mapped[int] = mapped_column(Integer, default=0)
    estimated_replies: Mapped[int] = mapped_column(Integer, default=0)
    # This session's own budget; NULL falls back to the BUDGET_SESSION_USD setting.
    budget_picodollars: Mapped[int | None] = mapped_column(BigInteger)

    messages: Mapped[list[Message]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_session_id_id", "session_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
    # Reply-only columns; NULL on user messages.
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    cached_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    # NULL cost on a reply means no price is known for its model: unknown, never $0.
    cost_picodollars: Mapped[int | None] = mapped_column(BigInteger)
    pricing_model: Mapped[str | None] = mapped_column(String(200))
    price_source: Mapped[str | None] = mapped_column(String(200))
    input_per_mtok: Mapped[Decimal | None] = mapped_column(DecimalText)
    cached_input_per_mtok: Mapped[Decimal | None] = mapped_column(DecimalText)
    output_per_mtok: Mapped[Decimal | None] = mapped_column(DecimalText)
    usage_estimated: Mapped[bool | None] = mapped_column(Boolean)
    complete: Mapped[bool] = mapped_column(Boolean, default=True)
    # Tokens this message adds to a request (counted when it is saved), so forecasts and
    # context trimming never re-tokenize the history.
    content_tokens: Mapped[int | None] = mapped_column(Integer)
    # What was forecast before sending, to compare with what the reply cost.
    forecast_prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    forecast_completion_tokens: Mapped[int | None] = mapped_column(Integer)
    forecast_cost_picodollars: Mapped[int | None] = mapped_column(BigInteger)

    session: Mapped[ChatSession] = relationship(back_populates="messages")


class BudgetLimit(Base):
    """A budget set in the UI, overriding the setting (today only "daily")."""

    __tablename__ = "budget_limits"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    limit_picodollars: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class BudgetEvent(Base):
    """A warning, block, confirmation or raise of a budget, kept for the record."""

    __tablename__ = "budget_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("chat_sessions.id", ondelete="SET NULL"))
    scope: Mapped[str] = mapped_column(String(20))  # "daily" or "session"
    kind: Mapped[str] = mapped_column(String(20))  # "set", "removed", "blocked" or "confirmed"
    spent_picodollars: Mapped[int] = mapped_column(BigInteger)
    forecast_picodollars: Mapped[int | None] = mapped_column(BigInteger)
    limit_picodollars: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


# The analytics covering index (migration 0003): its leading columns are the analytics
# GROUP BY, in order, so one ordered pass over the index answers the page's aggregates.
Index(
    "ix_messages_usage",
    func.date(Message.created_at),
    Message.role,
    Message.model,
    Message.usage_estimated,
    Message.input_per_mtok,
    Message.cached_input_per_mtok,
    Message.session_id,
    Message.prompt_tokens,
    Message.cached_tokens,
    Message.completion_tokens,
    Message.cost_picodollars,
    Message.created_at,
)
