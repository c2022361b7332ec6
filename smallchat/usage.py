"""Token usage of one reply, and the documented estimate used when a provider reports none."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# When a provider sends no usage we estimate: about four characters per token (the rule of
# thumb OpenAI documents for English text), plus a few tokens of framing per message.
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE_FRAMING = 4


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one reply. ``cached`` is part of ``prompt``; ``reasoning`` is part of ``completion``."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    reasoning: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion


def estimate_text_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (ceil of characters / 4)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_usage(prompt_texts: Iterable[str], reply_text: str) -> TokenUsage:
    """Estimate usage for a reply whose provider reported none."""
    prompt = sum(estimate_text_tokens(text) + TOKENS_PER_MESSAGE_FRAMING for text in prompt_texts)
    return TokenUsage(prompt=prompt, completion=estimate_text_tokens(reply_text))
