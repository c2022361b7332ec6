"""The provider client: streaming chat completions, usage parsing and error mapping.

Every exception of the ``openai`` SDK is turned here into one of ``smallchat.errors``,
with text a person can act on and with the API key removed from anything echoed back.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from smallchat import errors
from smallchat.config import Settings
from smallchat.lazy import LazyModule
from smallchat.stream_text import TextCleaner
from smallchat.usage import TokenUsage

if TYPE_CHECKING:
    import openai
else:
    # Imported when first used (a message is sent), not by the chat page's first render.
    openai = LazyModule("openai")

# Placeholder key for local servers (Ollama, llama.cpp, vLLM) that ignore it; the SDK
# refuses to start without one.
LOCAL_SERVER_API_KEY = "not-needed"
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "host.docker.internal"}  # noqa: S104 - a name to match, not a bind
# Anything shaped like a provider key (sk-..., gsk_..., ...) is masked in echoed text.
_KEY_LIKE = re.compile(r"\b(?:sk|gsk|xai|pk|key)[-_][A-Za-z0-9_\-]{8,}")
_ERROR_DETAIL_MAX_CHARS = 300
# Optional request parameters some OpenAI-compatible servers reject, and what to do then:
# None drops the parameter (usage is then estimated if the server sends none); a name
# sends the value under that name (OpenAI's newer models take only max_completion_tokens,
# and the cap on the reply's cost must not be lost).
_OPTIONAL_PARAMETER_FALLBACKS: dict[str, str | None] = {
    "stream_options": None,
    "max_tokens": "max_completion_tokens",
}
# Words servers use when they refuse a parameter they do not know (OpenAI, vLLM, llama.cpp,
# pydantic-based servers); a 400 that merely mentions a parameter is not a refusal of it.
_REJECTED_PARAMETER = re.compile(
    r"unsupported|unrecognized|unknown|not supported|not permitted|extra (?:fields|inputs)|unexpected",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


def is_local_server(base_url: str) -> bool:
    """True for a server on this machine, which needs no API key."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.startswith("127.")


def needs_api_key(settings: Settings) -> bool:
    return not settings.has_api_key and not is_local_server(settings.base_url)


def make_client(settings: Settings) -> openai.OpenAI:
    """An SDK client for the configured provider (cheap to keep, expensive to rebuild)."""
    if needs_api_key(settings):
        raise errors.InvalidApiKey(
            "No API key is configured. Set AI_API_KEY in the environment, a .env file or .streamlit/secrets.toml."
        )
    if not all(" " < character < "\x7f" for character in settings.api_key):
        # An HTTP header carries only these; the SDK would fail deep inside with an encoding error.
        raise errors.InvalidApiKey(
            "The API key contains characters no API key has (quotes, spaces, accented letters or "
            "symbols, often picked up when copying it). Copy it again from the provider's console."
        )
    return openai.OpenAI(
        api_key=settings.api_key or LOCAL_SERVER_API_KEY,
        base_url=settings.base_url,
        timeout=settings.request_timeout_seconds,
        max_retries=settings.max_retries,
    )


class ReplyStream:
    """The text deltas of one streamed reply; usage and finish state travel beside them.

    Iterate it for text. Afterwards ``usage`` holds the provider-reported usage (None when
    the provider sent none), and ``finished`` whether the provider ended the reply itself.
    Whatever the provider sends, iterating yields only text that every supported database
    can store, or raises a ``smallchat.errors.ProviderError``.
    """

    def __init__(self, sdk_stream: Any, *, redact: Sequence[str]) -> None:
        self._sdk_stream = sdk_stream
        self._redact = redact
        self.usage: TokenUsage | None = None
        self.finish_reason: str | None = None
        self.model: str | None = None  # the model id the provider says answered

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    def __iter__(self) -> Iterator[str]:
        cleaner = TextCleaner(self._redact)
        sent_text = False
        try:
            for raw in self._raw_texts():
                if text := cleaner.clean(raw):
                    sent_text = True
                    yield text
        except errors.ProviderError:
            if rest := cleaner.flush():  # what was held back still belongs to the partial reply
                yield rest
            raise
        if rest := cleaner.flush():
            sent_text = True
            yield rest
        if not sent_text and not self.finished:
            # Not a reply but a broken one: an empty body, a web page, a stream cut before
            # any text. (A model may finish with an empty reply: that one is kept.)
            raise errors.ProviderError(
                "The AI provider ended the reply without sending any of it. Try again; if it keeps "
                "happening, check AI_BASE_URL."
            )

    def _raw_texts(self) -> Iterator[str]:
        """The text of each chunk as the provider sent it; SDK and decoding errors become ProviderError."""
        try:
            completion = self._unstreamed_completion()
            for chunk in [completion] if completion is not None else self._sdk_stream:
                if text := self._read_chunk(chunk):
                    yield text
        except openai.OpenAIError as error:
            raise translate_error(error, redact=self._redact) from None
        except ValueError:
            # Malformed server-sent events (not JSON, not UTF-8) surface from the SDK as
            # ValueError subclasses; what arrived before them is kept by the caller.
            raise errors.ProviderError(
                "The AI provider sent part of the reply in a form SmallChat cannot read. Try again."
            ) from None

    def _read_chunk(self, chunk: Any) -> str:
        if self.model is None and _get(chunk, "model"):
            self.model = str(_get(chunk, "model"))
        usage = usage_from_chunk(chunk)
        if usage is not None:
            # Counted once: providers that repeat usage (Groq's x_groq beside a usage
            # chunk) or send running totals end on the final figures, so keep the last.
            self.usage = usage
        parts = []
        for choice in _get(chunk, "choices") or ():
            if _get(choice, "finish_reason"):
                self.finish_reason = _get(choice, "finish_reason")
            # A streamed chunk carries a delta; a whole completion (below) a message.
            text = _get(_get(choice, "delta") or _get(choice, "message"), "content")
            if isinstance(text, str):
                parts.append(text)
        return "".join(parts)

    def _unstreamed_completion(self) -> Mapping[str, Any] | None:
        """The whole completion, when the server ignored ``stream: true`` and answered with one JSON body."""
        response = getattr(self._sdk_stream, "response", None)
        content_type = str(getattr(response, "headers", {}).get("content-type", "")).lower()
        if response is None or not content_type.startswith("application/json"):
            return None
        body = json.loads(response.read())
        if not isinstance(body, Mapping) or not isinstance(body.get("choices"), list):
            raise ValueError("not a chat completion")
        return body

    def close(self) -> None:
        """Stop reading (the user pressed stop, or the page moved on)."""
        close = getattr(self._sdk_stream, "close", None)
        if close is not None:
            close()


def open_reply_stream(
    client: openai.OpenAI, settings: Settings, *, model: str, messages: Sequence[ChatMessage]
) -> ReplyStream:
    """Start a streamed chat completion; provider errors raise ``smallchat.errors``."""
    redact = [settings.api_key]
    request: dict[str, Any] = {
        "model": model,
        "messages": [{"role": message.role, "content": message.content} for message in messages],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if settings.max_output_tokens is not None:
        request["max_tokens"] = settings.max_output_tokens
    try:
        sdk_stream = _create_stream(client, request)
    except openai.OpenAIError as error:
        raise translate_error(error, redact=redact, model=model, base_url=settings.base_url) from None
    return ReplyStream(sdk_stream, redact=redact)


def _create_stream(client: openai.OpenAI, request: dict[str, Any]) -> Any:
    """Send the request; when the server refuses an optional parameter, apply its fallback and ask again."""
    for _ in range(len(_OPTIONAL_PARAMETER_FALLBACKS) + 1):
        try:
            return _post_chat_completion(client, request)
        except (openai.BadRequestError, openai.UnprocessableEntityError) as error:
            rejected = _rejected_optional_parameter(error, request)
            if rejected is None:
                raise
            value = request.pop(rejected)
            replacement = _OPTIONAL_PARAMETER_FALLBACKS[rejected]
            if replacement is not None:
                request[replacement] = value
    return _post_chat_completion(client, request)


def _post_chat_completion(client: openai.OpenAI, request: dict[str, Any]) -> Any:
    """``client.chat.completions.create(**request)``, streamed as plain JSON chunks (dicts).

    The SDK's documented ``client.post`` sends it with the client's own key, retries and
    timeouts. Skipped: the typed method's pass over the parameters, which grows with the
    history (measured here: 2.4 ms at 12 messages, 7 ms at 50, 33 ms at 200, all before the
    request leaves), and a model object built per chunk; the request is plain JSON already,
    and chunks are read as dicts below.
    """
    return client.post("/chat/completions", body=request, cast_to=object, stream=True, stream_cls=openai.Stream[object])


def _rejected_optional_parameter(error: openai.APIStatusError, request: Mapping[str, Any]) -> str | None:
    """The optional parameter of ``request`` that the server refused, if that is what it said."""
    text = f"{getattr(error, 'param', None)} {getattr(error, 'body', None)} {error}"
    if not _REJECTED_PARAMETER.search(text):
        return None
    for name in _OPTIONAL_PARAMETER_FALLBACKS:
        # Whole-word match: "max_tokens" must not match inside "max_completion_tokens".
        if name in request and re.search(rf"\b{name}\b", text):
            return name
    return None


def list_models(client: openai.OpenAI) -> list[str]:
    """The provider's model ids, sorted; empty when the list cannot be fetched."""
    try:
        return sorted(model.id for model in client.models.list())
    except openai.OpenAIError:
        return []


def usage_from_chunk(chunk: Any) -> TokenUsage | None:
    """Usage carried by one stream chunk, wherever the provider put it, or None."""
    usage = _get(chunk, "usage")
    if usage is None:
        usage = _get(_get(chunk, "x_groq"), "usage")
    if usage is None:
        return None
    return parse_usage(usage)


def parse_usage(usage: Any) -> TokenUsage | None:
    """A TokenUsage from an OpenAI-style usage object or dict."""
    prompt = _int(_get(usage, "prompt_tokens"))
    completion = _int(_get(usage, "completion_tokens"))
    if prompt is None and completion is None:
        return None
    cached = _int(_get(_get(usage, "prompt_tokens_details"), "cached_tokens"))
    if cached is None:
        # DeepSeek and some compatible servers report cache hits at the top level.
        cached = _int(_get(usage, "prompt_cache_hit_tokens"))
    reasoning = _int(_get(_get(usage, "completion_tokens_details"), "reasoning_tokens"))
    prompt = prompt or 0
    completion = completion or 0
    return TokenUsage(
        prompt=prompt,
        completion=completion,
        cached=min(cached or 0, prompt),
        reasoning=min(reasoning or 0, completion),
    )


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None)
        if extra:
            value = extra.get(name)
    return value


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def redact_secrets(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret, and anything shaped like an API key, masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _KEY_LIKE.sub("[redacted]", text)


def shown_url(url: str) -> str:
    """``url`` as messages show it: no user name, password or query, where a key may have been put."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url.split("?", 1)[0]
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def translate_error(
    error: openai.OpenAIError,
    *,
    redact: Sequence[str],
    model: str | None = None,
    base_url: str | None = None,
) -> errors.ProviderError:
    """The user-facing error for an SDK exception."""
    detail = _provider_detail(error, redact)
    suffix = f" The provider said: {detail}" if detail else ""
    where = f" at {shown_url(base_url)}" if base_url else ""

    if isinstance(error, openai.APITimeoutError):
        return errors.ProviderTimeout(
            "The AI provider did not answer in time. Try again; if it keeps happening, raise AI_TIMEOUT_SECONDS."
        )
    if isinstance(error, openai.APIConnectionError):
        return errors.ProviderUnreachable(
            f"Could not connect to the AI provider{where}. Check AI_BASE_URL and your network, then try again."
        )
    status = getattr(error, "status_code", None)
    if status == 401:
        return errors.InvalidApiKey(
            "The AI provider rejected the API key (401). Check AI_API_KEY, or enter another key." + suffix
        )
    if status == 403:
        return errors.PermissionDenied("The API key is not allowed to use this model or endpoint (403)." + suffix)
    if status == 404:
        return errors.ModelNotFound(
            f"The model {model or ''!s} was not found{where} (404). Check AI_MODEL_NAME.".replace("  ", " ") + suffix
        )
    if status == 413:
        return errors.RequestTooLarge(
            "The request is too large for the AI provider (413). Send a shorter message or start a new chat." + suffix
        )
    if status == 429:
        wait = _retry_after_seconds(error)
        when = f"It asks to wait {_describe_wait(wait)}, then retry." if wait else "Wait a moment, then retry."
        return errors.RateLimited(
            f"The AI provider is rate limiting requests (429). {when}" + suffix, retry_after_seconds=wait
        )
    if status in (400, 422) and _is_context_length_error(error):
        return errors.ContextTooLong(
            "This conversation is now too long for the model's context window. Start a new chat, "
            "or reset this one, to continue."
        )
    if status == 408:
        return errors.ProviderTimeout("The AI provider timed out (408). Try again." + suffix)
    if isinstance(status, int) and status >= 500:
        return errors.ProviderUnavailable(
            f"The AI provider had a server error ({status}). Try again in a moment." + suffix
        )
    if isinstance(status, int):
        return errors.ProviderError(f"The AI provider refused the request ({status})." + suffix)
    return errors.ProviderError("The AI provider stopped with an error." + suffix)


def _retry_after_seconds(error: openai.OpenAIError) -> float | None:
    """The wait the provider asked for in ``retry-after-ms`` / ``retry-after`` (seconds), if any."""
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    for name, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        try:
            seconds = float(headers.get(name)) / divisor
        except (TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds > 0:
            return seconds
    return None


def _describe_wait(seconds: float) -> str:
    if seconds < 120:
        whole = math.ceil(seconds)
        return f"{whole} second{'s' if whole != 1 else ''}"
    if seconds < 2 * 3600:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / 3600)} hours"


def _is_context_length_error(error: openai.OpenAIError) -> bool:
    code = getattr(error, "code", None)
    body = getattr(error, "body", None)
    text = f"{code} {body} {error}".lower()
    return "context_length_exceeded" in text or "context length" in text or "maximum context" in text


def _provider_detail(error: openai.OpenAIError, redact: Sequence[str]) -> str:
    """The provider's own words, shortened and with secrets removed."""
    message = None
    body = getattr(error, "body", None)
    if isinstance(body, Mapping):
        message = body.get("message") or _get(body.get("error"), "message")
    if not isinstance(message, str) or not message.strip():
        message = getattr(error, "message", None) or ""
        # The SDK's default for a status error without a JSON body is "Error code: N - ...".
        if isinstance(message, str) and message.startswith("Error code:"):
            message = ""
    message = " ".join(str(message).split())
    if len(message) > _ERROR_DETAIL_MAX_CHARS:
        message = message[: _ERROR_DETAIL_MAX_CHARS - 1] + "…"
    return redact_secrets(message, redact)
