"""The "send a message" use case, shared by the chat page and the REST API.

Steps, each its own short transaction: save the user's message; build the context from
the session's history; stream the reply from the provider (no transaction open); save
the reply with its usage and exact cost.
"""

from __future__ import annotations

import threading
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smallchat.budgets import budget_statuses, enforce_budgets
from smallchat.config import Settings
from smallchat.errors import InvalidInput, ProviderError, SessionNotFound, SmallChatError
from smallchat.forecast import ContextPlan, Forecast, forecast_from_history
from smallchat.llm import ChatMessage, ReplyStream, open_reply_stream
from smallchat.pricing import price_reply
from smallchat.repository import ChatStore, MessageRecord, NewReply
from smallchat.tokens import count_message_tokens, count_text_tokens
from smallchat.usage import TokenUsage

if TYPE_CHECKING:
    import openai


# On a database inside this process (SQLite), messages are prepared one at a time (history
# read, checks, the user's message saved): the work is all Python and local file access, so
# under the interpreter lock interleaving gains nothing, and fifty preparations interleaved
# would all finish together, at the end, before any request left for the provider. Taking
# turns, each request leaves as soon as its own preparation is done, and the provider's wait
# for the earlier ones overlaps the later ones'. The wait for the provider is outside the
# lock. A database server (PostgreSQL) is different: preparations there mostly wait on the
# network, and those waits overlap best when the preparations do.
_preparing = threading.Lock()


def parse_session_id(raw: str) -> str:
    """The canonical form of a session id, or InvalidInput for anything that is not a UUID."""
    try:
        return str(uuid.UUID(str(raw).strip()))
    except (ValueError, AttributeError):
        raise InvalidInput("That chat link is not valid: the session id is not a UUID.") from None


# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15): characters
# drawn as nothing, beyond the format characters (Cf) — fillers, variation selectors.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)


def _is_invisible(character: str) -> bool:
    if character.isspace() or unicodedata.category(character) == "Cf":
        return True
    code = ord(character)
    return any(first <= code <= last for first, last in _INVISIBLE_RANGES)


def _is_blank(text: str) -> bool:
    """Nothing to read: only whitespace and characters drawn as nothing (zero-width space, BOM, fillers)."""
    return all(_is_invisible(character) for character in text)


def validate_message(text: str, settings: Settings) -> str:
    """The message to send, or InvalidInput saying why it cannot be sent."""
    if not isinstance(text, str) or _is_blank(text):
        raise InvalidInput("The message is empty. Type something to send.")
    if len(text) > settings.max_message_chars:
        raise InvalidInput(
            f"The message is too long: {len(text):,} characters, the limit is "
            f"{settings.max_message_chars:,} (MAX_MESSAGE_CHARS)."
        )
    # Lone surrogates cannot be stored or sent as UTF-8; say so instead of failing later.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("The message contains characters that are not valid text (unpaired surrogates).") from None
    # PostgreSQL refuses NUL in text (SQLite would keep it): refuse it on every backend alike,
    # so that a chat never works on one database and fails on the other.
    if "\x00" in text:
        raise InvalidInput(
            "The message contains a NUL character (\\x00), which cannot be stored. Remove it and send again."
        )
    return text


def build_context(settings: Settings, history: list[MessageRecord], plan: ContextPlan) -> list[ChatMessage]:
    """What the model receives: the system prompt, then the newest messages the plan keeps."""
    context = [ChatMessage("system", settings.system_prompt)] if settings.system_prompt.strip() else []
    kept = history[len(history) - plan.sent_messages :]
    context.extend(ChatMessage(m.role, m.content) for m in kept if m.content)
    return context


@dataclass
class PendingReply:
    """A reply being streamed: iterate it for text; it saves itself when the stream ends or stops.

    ``saved`` holds the stored reply afterwards. A reply cut short (the user stopped it, the
    page moved on, the connection dropped) is kept and flagged incomplete; a reply without
    provider-reported usage gets estimated tokens, flagged as such. When the reply cannot be
    saved (its session was deleted meanwhile, the database failed), ``save_error`` says why:
    iterating raises it once the stream has ended, ``close()`` never does.
    """

    store: ChatStore
    settings: Settings
    session_id: str
    model: str
    forecast: Forecast
    stream: ReplyStream
    saved: MessageRecord | None = None
    error: ProviderError | None = None
    save_error: SmallChatError | None = None

    def __post_init__(self) -> None:
        self._parts: list[str] = []
        self._save_attempted = False

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def __iter__(self) -> Iterator[str]:
        try:
            for text in self.stream:
                self._parts.append(text)
                yield text
        except ProviderError as error:
            self.error = error
            self._save()
            error.partial_reply = self.saved
            raise
        finally:
            self._save()
        if self.save_error is not None:
            raise self.save_error

    def close(self) -> None:
        """Stop streaming and keep what arrived so far."""
        self.stream.close()
        self._save()

    def _save(self) -> None:
        # Runs from a ``finally`` (the stream ended, failed or was stopped): it must not raise,
        # or it would replace the error on its way out with one about saving.
        if self._save_attempted:
            return
        self._save_attempted = True
        content = self.text
        if not content and not self.stream.finished:
            # Nothing arrived (an error, a stop before the first word): keep only the user's
            # message, so it can be retried as it is, rather than an empty reply.
            return
        try:
            self.saved = self._store_reply(content)
        except SessionNotFound:
            self.save_error = SessionNotFound(
                "This chat was deleted (perhaps in another tab) while the reply was arriving, so the reply "
                "was not saved. Start a new chat to continue."
            )
        except SmallChatError as error:
            self.save_error = error

    def _store_reply(self, content: str) -> MessageRecord:
        forecast = self.forecast
        usage = self.stream.usage
        estimated = usage is None
        if usage is None:
            usage = TokenUsage(prompt=forecast.plan.prompt_tokens, completion=count_text_tokens(content, self.model))
        model = self.stream.model or self.model
        priced = price_reply(self.settings, model, usage)
        reply = NewReply(
            content=content,
            model=model,
            usage=usage,
            usage_estimated=estimated,
            complete=self.stream.finished and self.error is None,
            cost=priced.cost,
            tariff=priced.tariff,
            content_tokens=count_message_tokens(content, self.model),
            forecast_prompt_tokens=forecast.plan.prompt_tokens,
            forecast_completion_tokens=forecast.expected_reply_tokens,
            forecast_cost=forecast.expected_cost,
        )
        return self.store.add_reply(self.session_id, reply=reply)


def start_reply(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    *,
    session_id: str,
    text: str | None,
    confirm_over_budget: bool = False,
) -> PendingReply:
    """Save ``text`` as the user's message (None: retry the last unanswered one) and start the reply.

    Raises InvalidInput, SessionNotFound or BudgetExceeded before anything is saved, and
    ProviderError after the user's message is saved (it stays, ready to be retried as it is).
    """
    with _preparing if store.database_in_process else nullcontext():
        model, forecast, context = _prepare(store, settings, session_id, text, confirm_over_budget)
    stream = open_reply_stream(client, settings, model=model, messages=context)
    return PendingReply(
        store=store,
        settings=settings,
        session_id=session_id,
        model=model,
        forecast=forecast,
        stream=stream,
    )


def _prepare(
    store: ChatStore, settings: Settings, session_id: str, text: str | None, confirm_over_budget: bool
) -> tuple[str, Forecast, list[ChatMessage]]:
    """The session's model, the reply's forecast and the context to send, with ``text`` saved."""
    session, history = store.get_session_with_messages(session_id)
    model = session.model
    if text is None:
        if not history or history[-1].role != "user":
            raise InvalidInput("There is no unanswered message to retry.")
        draft_tokens = 0  # the message is already part of the history
    else:
        text = validate_message(text, settings)
        draft_tokens = count_message_tokens(text, model)
    # From the history already read: no further queries on the path to the first token.
    forecast = forecast_from_history(settings, model, history, draft_tokens=draft_tokens)
    budgets = budget_statuses(store, settings, session)
    if budgets:
        enforce_budgets(store, budgets, session, forecast=forecast.expected_cost, confirmed=confirm_over_budget)
    if text is not None:
        history.append(store.add_user_message(session_id, content=text, content_tokens=draft_tokens))
    return model, forecast, build_context(settings, history, forecast.plan)


def send_message(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    *,
    session_id: str,
    text: str | None,
    confirm_over_budget: bool = False,
) -> MessageRecord:
    """Send a message and wait for the whole reply (the non-streaming form of ``start_reply``)."""
    pending = start_reply(
        store, client, settings, session_id=session_id, text=text, confirm_over_budget=confirm_over_budget
    )
    for _ in pending:
        pass
    assert pending.saved is not None  # a failed save raised from the loop above
    return pending.saved
