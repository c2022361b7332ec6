"""The REST API's request and response bodies (Pydantic v2), built from the core's plain records.

Money is an exact decimal string made by ``smallchat.money.usd_text`` (``"0.00000675"``): JSON
numbers are read as floats by most clients, and money never passes through a float. A cost that
is not known (no price for the model) is ``null`` with ``status: "unknown"``, never ``"0"``.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from smallchat.errors import SmallChatError
from smallchat.money import usd_text
from smallchat.repository import MessageRecord, SessionSummary

SESSION_ID_EXAMPLE = "3f1c2a9e-8d47-4b6a-9a51-2f0e7c1d5b64"
CREATED_EXAMPLE = "2025-01-31T09:30:00Z"

_TARIFF_EXAMPLE = {
    "pricing_model": "gpt-5-mini",
    "source": "default tariff",
    "input_per_mtok": "0.25",
    "cached_input_per_mtok": "0.025",
    "output_per_mtok": "2.00",
}
_USAGE_EXAMPLE = {
    "prompt_tokens": 2006,
    "cached_tokens": 1920,
    "completion_tokens": 300,
    "reasoning_tokens": 0,
    "estimated": False,
}
_USER_MESSAGE_EXAMPLE = {
    "id": 1,
    "role": "user",
    "content": "What does prompt caching save?",
    "created_at": CREATED_EXAMPLE,
    "model": None,
    "usage": None,
    "cost": None,
    "complete": True,
}
# 86 * 0.25 + 1920 * 0.025 + 300 * 2.00 = 669.5 USD per 1M tokens
_REPLY_EXAMPLE = {
    "id": 2,
    "role": "assistant",
    "content": "Cached input tokens cost a tenth of the input rate.",
    "created_at": CREATED_EXAMPLE,
    "model": "llama-3.3-70b-versatile",
    "usage": _USAGE_EXAMPLE,
    "cost": {"usd": "0.0006695", "status": "exact", "tariff": _TARIFF_EXAMPLE},
    "complete": True,
}
# Cut after two words: 86 * 0.25 + 1920 * 0.025 + 2 * 2.00 = 73.5 USD per 1M tokens, the
# output counted from the text (the provider sent no usage before failing).
_PARTIAL_REPLY_EXAMPLE = {
    **_REPLY_EXAMPLE,
    "content": "Cached input",
    "usage": {**_USAGE_EXAMPLE, "completion_tokens": 2, "estimated": True},
    "cost": {"usd": "0.0000735", "status": "estimated", "tariff": _TARIFF_EXAMPLE},
    "complete": False,
}
_SESSION_EXAMPLE = {
    "id": SESSION_ID_EXAMPLE,
    "title": "What does prompt caching save?",
    "model": "llama-3.3-70b-versatile",
    "created_at": CREATED_EXAMPLE,
    "updated_at": CREATED_EXAMPLE,
    "message_count": 2,
    "usage": {"prompt_tokens": 2006, "cached_tokens": 1920, "completion_tokens": 300},
    "total_cost_usd": "0.0006695",
    "unpriced_replies": 0,
    "estimated_replies": 0,
    "chat_url": f"http://localhost:8501/?session={SESSION_ID_EXAMPLE}",
}

UsdText = Annotated[
    str,
    Field(
        pattern=r"^\d+\.\d{2,}$",
        description="US dollars as an exact decimal string (never a float).",
        examples=["0.00000675"],
    ),
]
RateText = Annotated[
    str,
    Field(pattern=r"^\d+(\.\d+)?$", description="US dollars per 1M tokens, exact.", examples=["0.25"]),
]


def _examples(*examples: dict) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


# Requests ---------------------------------------------------------------------------------


class ChatRequest(BaseModel):
    """A message to send in a session."""

    # Strict: "stream": "yes" or 1 is refused rather than read as true.
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"message": "What does prompt caching save?", "stream": False}],
        },
    )

    # Emptiness and length are checked by the core (smallchat.chat.validate_message), so the API
    # refuses exactly what the chat page refuses, in the same words; the schema only documents it.
    message: str = Field(
        description="The text to send: not empty or blank, at most MAX_MESSAGE_CHARS characters (100,000 by default).",
        json_schema_extra={"minLength": 1, "pattern": r"\S"},
        examples=["What does prompt caching save?"],
    )
    stream: bool = Field(
        default=False,
        description="Stream the reply as server-sent events (`delta` events, then a final `usage` event).",
    )
    confirm_over_budget: bool = Field(
        default=False,
        description="Send even though the forecast takes a budget over its limit (otherwise: 402).",
    )


class NewSessionRequest(BaseModel):
    """Creating a session takes no fields (a body, if sent, must be ``{}``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}]})


class RetryRequest(BaseModel):
    """How to send again the session's last message, the one that got no reply."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"stream": False}]})

    stream: bool = Field(default=False, description="Stream the reply, as for `/chat`.")
    confirm_over_budget: bool = Field(default=False, description="As for `/chat`.")


# Responses --------------------------------------------------------------------------------


class HealthOut(BaseModel):
    model_config = _examples({"status": "ok"})

    status: Literal["ok"] = "ok"


class ErrorOut(BaseModel):
    """An error: ``detail`` is meant for people (the chat page shows the same words), ``code`` for scripts."""

    model_config = _examples(
        {"detail": "This chat session does not exist: it may have been deleted.", "code": "session_not_found"},
        {
            "detail": "The AI provider is rate limiting requests (429). Wait a moment, then retry.",
            "code": "rate_limited",
        },
    )

    detail: str
    code: str = Field(examples=["session_not_found"])


class FieldErrorOut(BaseModel):
    model_config = _examples({"field": "message", "message": "required"})

    field: str = Field(examples=["message"])
    message: str = Field(examples=["required"])


class ValidationErrorOut(ErrorOut):
    """A refused request: what is wrong, field by field when the request's shape is at fault."""

    model_config = _examples(
        {
            "detail": "The request is not valid: colour: unknown field.",
            "code": "invalid_request",
            "errors": [{"field": "colour", "message": "unknown field"}],
        },
        {"detail": "The message is empty. Type something to send.", "code": "invalid_input", "errors": []},
    )

    errors: list[FieldErrorOut] = Field(default_factory=list)


class StreamErrorOut(ErrorOut):
    """The data of an SSE ``error`` event: the status the same error gets outside a stream."""

    model_config = _examples(
        {
            "detail": "The AI provider stopped with an error. The provider said: overloaded",
            "code": "provider_error",
            "status": 502,
        }
    )

    status: int = Field(examples=[429])


class TariffOut(BaseModel):
    """The rates a reply was priced at, and where they came from."""

    model_config = _examples(_TARIFF_EXAMPLE)

    pricing_model: str = Field(examples=["gpt-5-mini"])
    source: str = Field(examples=["default tariff"])
    input_per_mtok: RateText
    cached_input_per_mtok: RateText
    output_per_mtok: RateText

    @classmethod
    def from_record(cls, message: MessageRecord) -> TariffOut | None:
        if message.input_per_mtok is None or message.output_per_mtok is None:
            return None
        return cls(
            pricing_model=message.pricing_model or "",
            source=message.price_source or "",
            input_per_mtok=_rate_text(message.input_per_mtok),
            cached_input_per_mtok=_rate_text(
                message.input_per_mtok if message.cached_input_per_mtok is None else message.cached_input_per_mtok
            ),
            output_per_mtok=_rate_text(message.output_per_mtok),
        )


class UsageOut(BaseModel):
    """Tokens of one reply: ``cached`` is part of ``prompt``, ``reasoning`` part of ``completion``."""

    model_config = _examples(_USAGE_EXAMPLE)

    prompt_tokens: int = Field(ge=0, examples=[2006])
    cached_tokens: int = Field(ge=0, examples=[1920])
    completion_tokens: int = Field(ge=0, examples=[300])
    reasoning_tokens: int = Field(ge=0, examples=[0])
    estimated: bool = Field(description="True when the provider reported no usage and the tokens are estimated.")


class CostOut(BaseModel):
    """What a reply cost. ``usd`` is null only when no price is known for the model (``status: unknown``)."""

    model_config = _examples(
        {"usd": "0.0006695", "status": "exact", "tariff": _TARIFF_EXAMPLE},
        {"usd": None, "status": "unknown", "tariff": None},
    )

    usd: UsdText | None
    status: Literal["exact", "estimated", "unknown"] = Field(
        description="exact: priced from provider-reported usage; estimated: from estimated tokens; "
        "unknown: no price is known for the model."
    )
    tariff: TariffOut | None = None


class MessageOut(BaseModel):
    """One message of a session. ``usage`` and ``cost`` are null on the user's messages."""

    model_config = _examples(_USER_MESSAGE_EXAMPLE, _REPLY_EXAMPLE)

    id: int
    role: Literal["user", "assistant"]
    content: str
    created_at: datetime
    model: str | None = None
    usage: UsageOut | None = None
    cost: CostOut | None = None
    complete: bool = Field(default=True, description="False for a reply that was stopped or cut short.")

    @classmethod
    def from_record(cls, message: MessageRecord) -> MessageOut:
        usage = cost = None
        if message.role == "assistant" and message.usage is not None:
            usage = UsageOut(
                prompt_tokens=message.usage.prompt,
                cached_tokens=message.usage.cached,
                completion_tokens=message.usage.completion,
                reasoning_tokens=message.usage.reasoning,
                estimated=message.usage_estimated,
            )
            cost = CostOut(
                usd=None if message.cost is None else usd_text(message.cost),
                status=_cost_status(message),
                tariff=TariffOut.from_record(message),
            )
        return cls(
            id=message.id,
            role="assistant" if message.role == "assistant" else "user",
            content=message.content,
            created_at=message.created_at,
            model=message.model,
            usage=usage,
            cost=cost,
            complete=message.complete,
        )


class SessionUsageOut(BaseModel):
    model_config = _examples(_SESSION_EXAMPLE["usage"])

    prompt_tokens: int = Field(ge=0, examples=[2006])
    cached_tokens: int = Field(ge=0, examples=[1920])
    completion_tokens: int = Field(ge=0, examples=[300])


class ProviderErrorOut(ErrorOut):
    """A provider error after part of the reply arrived: that part was saved, and costs money."""

    model_config = _examples(
        {
            "detail": "The AI provider stopped with an error. The provider said: overloaded",
            "code": "provider_error",
            "partial_reply": _PARTIAL_REPLY_EXAMPLE,
        }
    )

    partial_reply: MessageOut = Field(description="The part of the reply saved before the error (incomplete).")


class SessionOut(BaseModel):
    """A chat session with its running totals.

    ``total_cost_usd`` adds up every priced reply; ``unpriced_replies`` counts replies whose
    cost is unknown (not included), ``estimated_replies`` those priced from estimated tokens.
    """

    model_config = _examples(_SESSION_EXAMPLE)

    id: str = Field(json_schema_extra={"format": "uuid"})
    title: str
    model: str
    created_at: datetime
    updated_at: datetime
    message_count: int = Field(ge=0)
    usage: SessionUsageOut
    total_cost_usd: UsdText
    unpriced_replies: int = Field(ge=0)
    estimated_replies: int = Field(ge=0)
    chat_url: str = Field(description="The chat page open on this session (UI_URL).")

    @classmethod
    def from_summary(cls, session: SessionSummary, *, ui_url: str) -> SessionOut:
        return cls(
            id=session.id,
            title=session.title,
            model=session.model,
            created_at=session.created_at,
            updated_at=session.updated_at,
            message_count=session.message_count,
            usage=SessionUsageOut(
                prompt_tokens=session.prompt_tokens,
                cached_tokens=session.cached_tokens,
                completion_tokens=session.completion_tokens,
            ),
            total_cost_usd=usd_text(session.cost),
            unpriced_replies=session.unpriced_replies,
            estimated_replies=session.estimated_replies,
            chat_url=chat_url(ui_url, session.id),
        )


class SessionListOut(BaseModel):
    """Sessions, most recently active first, with how many there are in all."""

    model_config = _examples({"sessions": [_SESSION_EXAMPLE], "total": 1, "limit": 50, "offset": 0})

    sessions: list[SessionOut]
    total: int = Field(ge=0, examples=[1])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])


class HistoryOut(BaseModel):
    """A session's messages in order (what the chat page shows) and its total cost."""

    model_config = _examples(
        {
            "session": _SESSION_EXAMPLE,
            "messages": [_USER_MESSAGE_EXAMPLE, _REPLY_EXAMPLE],
            "total_cost_usd": "0.0006695",
        }
    )

    session: SessionOut
    messages: list[MessageOut]
    total_cost_usd: UsdText


class ChatOut(BaseModel):
    """The saved reply with its tokens and cost, and the session with its new totals."""

    model_config = _examples({"reply": _REPLY_EXAMPLE, "session": _SESSION_EXAMPLE})

    reply: MessageOut
    session: SessionOut


class DeltaOut(BaseModel):
    """The data of an SSE ``delta`` event: the next piece of the reply's text."""

    model_config = _examples({"text": "Cached input"})

    text: str


# Helpers ----------------------------------------------------------------------------------


def restore_null_examples(openapi: dict[str, Any]) -> None:
    """Put each model's examples back whole: FastAPI drops every null from the OpenAPI document,
    which would turn ``{"usd": null, "status": "unknown"}`` into an example without ``usd``."""
    for name, component in openapi.get("components", {}).get("schemas", {}).items():
        model = globals().get(name)
        if isinstance(model, type) and issubclass(model, BaseModel):
            examples = (model.model_config.get("json_schema_extra") or {}).get("examples")  # type: ignore[union-attr]
            if examples:
                component["examples"] = examples


def chat_url(ui_url: str, session_id: str) -> str:
    """The chat page open on ``session_id``; a query of UI_URL's own (``?embed=true``) is kept."""
    parts = urlsplit(ui_url)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "session"]
    query.append(("session", session_id))
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/", urlencode(query), parts.fragment))


def error_code(error: SmallChatError) -> str:
    """A stable name for scripts: ``SessionNotFound`` -> ``session_not_found``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()


def _cost_status(message: MessageRecord) -> Literal["exact", "estimated", "unknown"]:
    if message.cost is None:
        return "unknown"
    return "estimated" if message.usage_estimated else "exact"


def _rate_text(rate: Decimal) -> str:
    # Rates are shown as configured ("2.00" stays "2.00"); plain notation, never "2E+0".
    return f"{rate:f}"
