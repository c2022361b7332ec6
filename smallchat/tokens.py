"""Counting tokens before a request is sent: the model family's tokenizer, or a documented estimate.

Tokenizers come from ``quicktok`` (bundled vocabularies, no download): o200k for GPT-4o /
GPT-4.1 / GPT-5 / o-series, cl100k for GPT-4 and GPT-3.5, Llama 3 for Llama 3.x, Qwen for
Qwen 2.5 / 3. Any other model gets the estimate of about four characters per token (the
rule of thumb OpenAI documents for English text). Counts are labelled exact or estimated.
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from typing import Any

CHARS_PER_TOKEN = 4
# Chat formatting adds a few tokens per message and primes the reply (OpenAI's cookbook
# counts 3 and 3); the same figures are used for every model.
TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMING = 3

# Model-name prefix -> quicktok encoding. Longest prefix wins.
_ENCODING_BY_PREFIX = {
    "gpt-5": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4o": "o200k_base",
    "chatgpt-4o": "o200k_base",
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4": "o200k_base",
    "gpt-oss": "o200k_harmony",
    "gpt-4": "cl100k_base",
    "gpt-3.5": "cl100k_base",
    "llama-3": "llama3",
    "llama3": "llama3",
    "meta-llama-3": "llama3",
    "qwen3": "qwen3",
    "qwen2.5": "qwen3",
    "qwen-2.5": "qwen3",
}


def encoding_name(model: str) -> str | None:
    """The tokenizer encoding for ``model``, or None when only an estimate is possible."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    for prefix in sorted(_ENCODING_BY_PREFIX, key=len, reverse=True):
        if name == prefix or name.startswith((prefix + "-", prefix + ".", prefix + ":", prefix + "_")):
            return _ENCODING_BY_PREFIX[prefix]
    return None


@lru_cache(maxsize=8)
def _tokenizer(encoding: str) -> Any | None:
    # Imported and loaded lazily: each vocabulary takes a fraction of a second to load,
    # paid once per process (the chat page warms it at start-up).
    try:
        import quicktok
    except ImportError:  # the package is optional: fall back to the estimate
        return None
    return quicktok.get_encoding(encoding)


def tokenizer_for(model: str) -> Any | None:
    encoding = encoding_name(model)
    return None if encoding is None else _tokenizer(encoding)


@lru_cache(maxsize=1)
def _tokenizers_installed() -> bool:
    return importlib.util.find_spec("quicktok") is not None


def is_exact(model: str) -> bool:
    """True when ``model``'s own tokenizer is available offline (without loading it)."""
    return encoding_name(model) is not None and _tokenizers_installed()


def count_text_tokens(text: str, model: str) -> int:
    """Tokens of ``text`` for ``model``: exact where its tokenizer is known, else ceil(chars / 4)."""
    tokenizer = tokenizer_for(model)
    if tokenizer is None:
        return math.ceil(len(text) / CHARS_PER_TOKEN)
    return int(tokenizer.count(text))


def count_message_tokens(text: str, model: str) -> int:
    """Tokens one chat message adds to a request, its framing included."""
    return count_text_tokens(text, model) + TOKENS_PER_MESSAGE


def stored_message_tokens(content: str, content_tokens: int | None) -> int:
    """A saved message's tokens: as counted when it was saved, else the estimate (older rows)."""
    if content_tokens is not None:
        return content_tokens
    return math.ceil(len(content) / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE


def warm_up(model: str) -> None:
    """Load ``model``'s tokenizer now, so the first message does not wait for it."""
    tokenizer_for(model)
