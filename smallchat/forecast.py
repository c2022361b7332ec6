"""Before sending: which history goes with the request, and what the message will probably cost.

The forecast prices the request's prompt (system prompt + kept history + the draft) at the
input rate, plus the session's typical reply length at the output rate, and the longest
reply allowed when ``AI_MAX_OUTPUT_TOKENS`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from smallchat.config import Settings
from smallchat.pricing import Tariff, context_window_for, tariff_for
from smallchat.repository import ChatStore, MessageRecord, SessionSummary
from smallchat.tokens import TOKENS_REPLY_PRIMING, count_message_tokens, is_exact, stored_message_tokens
from smallchat.usage import TokenUsage

# Before a session has any reply, a reply is expected to be about this long: a few
# paragraphs, near the median chat reply length we see with Llama and GPT models.
DEFAULT_REPLY_TOKENS = 300


@dataclass(frozen=True)
class ContextPlan:
    """How much of the history a request carries."""

    sent_messages: int
    omitted_messages: int
    prompt_tokens: int


@dataclass(frozen=True)
class Forecast:
    """The expected cost of the next message; costs are None when the model has no known price."""

    plan: ContextPlan
    expected_reply_tokens: int
    max_reply_tokens: int | None
    expected_cost: Decimal | None
    max_cost: Decimal | None
    tariff: Tariff | None
    exact_tokens: bool


def plan_context(history_tokens: list[int], *, system_tokens: int, settings: Settings) -> ContextPlan:
    """Keep the newest messages that fit the context settings (oldest first in ``history_tokens``).

    The newest message is always sent, even alone over the limit: the provider then says
    the conversation is too long, which the person can act on.
    """
    budget = settings.max_context_tokens
    most_messages = settings.max_context_messages or len(history_tokens)
    sent = 0
    tokens = system_tokens + TOKENS_REPLY_PRIMING
    for message_tokens in reversed(history_tokens):
        if sent >= most_messages:
            break
        if sent > 0 and budget is not None and tokens + message_tokens > budget:
            break
        tokens += message_tokens
        sent += 1
    return ContextPlan(sent_messages=sent, omitted_messages=len(history_tokens) - sent, prompt_tokens=tokens)


def system_prompt_tokens(settings: Settings, model: str) -> int:
    return count_message_tokens(settings.system_prompt, model) if settings.system_prompt.strip() else 0


def forecast_next(
    store: ChatStore, settings: Settings, session: SessionSummary | None, *, draft_tokens: int = 0
) -> Forecast:
    """The forecast for sending a message of ``draft_tokens`` next in ``session`` (None: a new chat).

    The chat box's text is not visible to the page before it is sent, so the page asks
    with ``draft_tokens=0`` and says the message's own tokens come on top; the use case
    forecasts again with the real draft just before sending.
    """
    if session is None:
        return forecast_from(settings, settings.model_name, history_tokens=[], typical_reply_tokens=None)
    return forecast_from(
        settings,
        session.model,
        history_tokens=store.history_token_counts(session.id),
        typical_reply_tokens=store.typical_reply_tokens(session.id),
        draft_tokens=draft_tokens,
    )


def forecast_from_history(
    settings: Settings, model: str, history: list[MessageRecord], *, draft_tokens: int = 0
) -> Forecast:
    """The same forecast from a history already in memory (no database reads)."""
    replies = [message.usage.completion for message in history if message.usage is not None]
    return forecast_from(
        settings,
        model,
        history_tokens=[stored_message_tokens(message.content, message.content_tokens) for message in history],
        typical_reply_tokens=round(sum(replies) / len(replies)) if replies else None,
        draft_tokens=draft_tokens,
    )


def forecast_from(
    settings: Settings,
    model: str,
    *,
    history_tokens: list[int],
    typical_reply_tokens: int | None,
    draft_tokens: int = 0,
) -> Forecast:
    """The forecast, given each history message's tokens and the mean reply length so far."""
    pending = [draft_tokens] if draft_tokens else []
    plan = plan_context(
        [*history_tokens, *pending], system_tokens=system_prompt_tokens(settings, model), settings=settings
    )
    expected_reply = typical_reply_tokens if typical_reply_tokens is not None else DEFAULT_REPLY_TOKENS
    if settings.max_output_tokens is not None:
        expected_reply = min(expected_reply, settings.max_output_tokens)
    tariff = tariff_for(settings, model, prompt_tokens=plan.prompt_tokens)

    def cost(reply_tokens: int | None) -> Decimal | None:
        if tariff is None or reply_tokens is None:
            return None
        return tariff.cost(TokenUsage(prompt=plan.prompt_tokens, completion=reply_tokens))

    return Forecast(
        plan=plan,
        expected_reply_tokens=expected_reply,
        max_reply_tokens=settings.max_output_tokens,
        expected_cost=cost(expected_reply),
        max_cost=cost(settings.max_output_tokens),
        tariff=tariff,
        exact_tokens=is_exact(model),
    )


def context_window(settings: Settings, model: str) -> int | None:
    """The model's context window: the AI_CONTEXT_WINDOW setting, else genai-prices' figure."""
    return settings.context_window_tokens or context_window_for(model, base_url=settings.base_url)
