from __future__ import annotations

import pytest

from smallchat.tokens import count_message_tokens, count_text_tokens, encoding_name, is_exact


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("llama-3.3-70b-versatile", "llama3"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama3"),
        ("llama3.2:1b", "llama3"),
        ("qwen2.5-coder", "qwen3"),
        ("mistral-small", None),
        ("house-model", None),
    ],
)
def test_models_map_to_their_family_tokenizer(model: str, encoding: str | None) -> None:
    assert encoding_name(model) == encoding


def test_known_tokenizers_count_exactly() -> None:
    # "hello world" is two tokens in o200k (24912, 2375), cl100k and Llama 3 (15339, 1917).
    assert count_text_tokens("hello world", "gpt-4o") == 2
    assert count_text_tokens("hello world", "gpt-4") == 2
    assert count_text_tokens("hello world", "llama-3.3-70b-versatile") == 2
    assert is_exact("gpt-4o")


def test_unknown_models_are_estimated_at_four_characters_per_token() -> None:
    assert not is_exact("house-model")
    assert count_text_tokens("abcdefghi", "house-model") == 3  # ceil(9 / 4)
    assert count_message_tokens("abcdefghi", "house-model") == 6  # + 3 framing
