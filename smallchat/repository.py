"""Every query and write of chat sessions and messages: the only module that speaks SQL.

Each public method is one short transaction and returns plain frozen dataclasses, never
live ORM objects, so callers (Streamlit reruns, API requests) can keep them safely.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from smallchat.db import writer
from smallchat.errors import SessionNotFound
from smallchat.models import ChatSession, Message, utc_now
from smallchat.money import from_picodollars, to_picodollars
from smallchat.pricing import Tariff
from smallchat.usage import TokenUsage

DEFAULT_TITLE = "New chat"
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
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(writer(engine), expire_on_commit=False)
        # On SQLite, this process's writers queue here and are woken in turn the moment the
        # lock is free. Left to SQLite's busy handler they would poll with sleeps of up to
        # 100 ms, and under many concurrent requests those sleeps, not the writes, set the pace.
        # Other processes (the chat page beside the API) still meet the busy timeout.
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE on SQLite), after this process's earlier writers."""
        with self._write_lock, self._write.begin() as db:
            yield db

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

    def get_session(self, session_id: str) -> SessionSummary:
        """The session, or SessionNotFound."""
        with self._read() as db:
            return _session_summary(_require_session(db, session_id))

    def session_exists(self, session_id: str) -> bool:
        with self._read() as db:
            return db.get(ChatSession, session_id) is not None

    def list_sessions(self, *, limit: int = 50, offset: int = 0) -> list[SessionSummary]:
        """Sessions, most recently active first."""
        query = select(ChatSession).order_by(ChatSession.updated_at.desc(), ChatSession.id).limit(limit).offset(offset)
        with self._read() as db:
            return [_session_summary(row) for row in db.scalars(query)]

    def count_sessions(self) -> int:
        with self._read() as db:
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

    def add_user_message(self, session_id: str, *, content: str) -> MessageRecord:
        """Save the user's message; the first one also names an untitled session."""
        now = utc_now()
        with self._writing() as db:
            session = _require_session(db, session_id)
            if session.message_count == 0 and session.title == DEFAULT_TITLE:
                session.title = title_from_message(content)
            row = Message(session_id=session_id, role="user", content=content, created_at=now, complete=True)
            db.add(row)
            db.execute(
                update(ChatSession)
                .where(ChatSession.id == session_id)
                .values(message_count=ChatSession.message_count + 1, updated_at=now)
                .execution_options(synchronize_session=False)  # the loaded row is not read again
            )
            db.flush()
            return _message_record(row)

    def add_reply(self, session_id: str, *, reply: NewReply) -> MessageRecord:
        """Save an assistant reply with its usage and cost, and add them to the session's totals."""
        now = utc_now()
        usage = reply.usage
        tariff = reply.tariff
        cost_picodollars = None if reply.cost is None else to_picodollars(reply.cost)
        row = Message(
            session_id=session_id,
            role="assistant",
            content=reply.content,
            created_at=now,
            model=reply.model,
            prompt_tokens=usage.prompt,
            cached_tokens=usage.cached,
            completion_tokens=usage.completion,
            reasoning_tokens=usage.reasoning,
            cost_picodollars=cost_picodollars,
            pricing_model=tariff.pricing_model if tariff else None,
            price_source=tariff.source if tariff else None,
            input_per_mtok=tariff.input_per_mtok if tariff else None,
            cached_input_per_mtok=tariff.cached_input_per_mtok if tariff else None,
            output_per_mtok=tariff.output_per_mtok if tariff else None,
            usage_estimated=reply.usage_estimated,
            complete=reply.complete,
        )
        with self._writing() as db:
            _require_session(db, session_id)
            db.add(row)
            db.execute(
                update(ChatSession)
                .where(ChatSession.id == session_id)
                .values(
                    message_count=ChatSession.message_count + 1,
                    prompt_tokens=ChatSession.prompt_tokens + usage.prompt,
                    cached_tokens=ChatSession.cached_tokens + usage.cached,
                    completion_tokens=ChatSession.completion_tokens + usage.completion,
                    cost_picodollars=ChatSession.cost_picodollars + (cost_picodollars or 0),
                    unpriced_replies=ChatSession.unpriced_replies + (1 if cost_picodollars is None else 0),
                    estimated_replies=ChatSession.estimated_replies + (1 if reply.usage_estimated else 0),
                    updated_at=now,
                )
                # The row loaded above is not read again: skip evaluating the sums in Python too.
                .execution_options(synchronize_session=False)
            )
            db.flush()
            return _message_record(row)

    def list_messages(self, session_id: str, *, limit: int | None = None) -> list[MessageRecord]:
        """The session's messages in order; with ``limit``, only the latest ``limit`` of them."""
        query = select(Message).where(Message.session_id == session_id).order_by(Message.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._read() as db:
            rows = list(db.scalars(query))
        rows.reverse()
        return [_message_record(row) for row in rows]

    def last_message(self, session_id: str) -> MessageRecord | None:
        latest = self.list_messages(session_id, limit=1)
        return latest[0] if latest else None


def _require_session(db: Session, session_id: str) -> ChatSession:
    row = db.get(ChatSession, session_id)
    if row is None:
        raise SessionNotFound("This chat session does not exist: it may have been deleted.")
    return row


def _session_summary(row: ChatSession) -> SessionSummary:
    return SessionSummary(
        id=row.id,
        title=row.title,
        model=row.model,
        created_at=row.created_at,
        updated_at=row.updated_at,
        message_count=row.message_count,
        prompt_tokens=row.prompt_tokens,
        cached_tokens=row.cached_tokens,
        completion_tokens=row.completion_tokens,
        cost=from_picodollars(row.cost_picodollars),
        unpriced_replies=row.unpriced_replies,
        estimated_replies=row.estimated_replies,
    )


def _message_record(row: Message) -> MessageRecord:
    usage = None
    if row.role == "assistant":
        usage = TokenUsage(
            prompt=row.prompt_tokens or 0,
            completion=row.completion_tokens or 0,
            cached=row.cached_tokens or 0,
            reasoning=row.reasoning_tokens or 0,
        )
    return MessageRecord(
        id=row.id,
        session_id=row.session_id,
        role=row.role,
        content=row.content,
        created_at=row.created_at,
        model=row.model,
        usage=usage,
        cost=None if row.cost_picodollars is None else from_picodollars(row.cost_picodollars),
        pricing_model=row.pricing_model,
        price_source=row.price_source,
        input_per_mtok=row.input_per_mtok,
        cached_input_per_mtok=row.cached_input_per_mtok,
        output_per_mtok=row.output_per_mtok,
        usage_estimated=bool(row.usage_estimated),
        complete=row.complete,
    )
