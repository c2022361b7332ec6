"""Settings that cannot work stop SmallChat at start-up, naming the setting, rather than failing every message."""

from __future__ import annotations

from pathlib import Path

import pytest

from smallchat.config import load_settings
from smallchat.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        pytest.param("MAX_MESSAGE_CHARS", "0", "MAX_MESSAGE_CHARS must be at least 1, got '0'.", id="no-message-fits"),
        pytest.param(
            "AI_TIMEOUT_SECONDS",
            "inf",
            "AI_TIMEOUT_SECONDS must be a number greater than 0, got 'inf'.",
            id="timeout-inf",
        ),
        pytest.param(
            "AI_BASE_URL",
            "http://127.0.0.1:8765/v1?api-key=sk-abc123",
            "AI_BASE_URL must not have a query (?...) or fragment (#...); put the key in AI_API_KEY.",
            id="base-url-with-a-query",
        ),
        pytest.param(
            "AI_BASE_URL",
            "localhost:11434/v1",
            "AI_BASE_URL must be an http:// or https:// address, got 'localhost:11434/v1'.",
            id="base-url-without-scheme",
        ),
        pytest.param(
            "UI_URL",
            "localhost:8501",
            "UI_URL must be an http:// or https:// address, got 'localhost:8501'.",
            id="ui-url-without-scheme",
        ),
        pytest.param(
            "BUDGET_DAILY_USD",
            "10000000",
            "BUDGET_DAILY_USD must be between $0.000001 and $1,000,000, got '10000000'.",
            id="budget-too-large-to-store",
        ),
        pytest.param(
            "BUDGET_SESSION_USD",
            "0.0000000000001",
            "BUDGET_SESSION_USD must be between $0.000001 and $1,000,000, got '0.0000000000001'.",
            id="budget-too-small-to-store",
        ),
    ],
)
def test_a_setting_that_cannot_work_is_refused_by_name(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={name: value}, env_file=None)
    assert str(raised.value) == words


def test_the_edges_of_the_ranges_are_accepted() -> None:
    settings = load_settings(
        environ={"MAX_MESSAGE_CHARS": "1", "BUDGET_DAILY_USD": "1000000", "BUDGET_SESSION_USD": "0.000001"},
        env_file=None,
    )
    assert (settings.max_message_chars, str(settings.daily_budget_usd), str(settings.session_budget_usd)) == (
        1,
        "1000000",
        "0.000001",
    )


def test_a_dot_env_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"\xff\xfeA\x00I\x00_\x00")  # UTF-16, as some editors save it
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={}, env_file=env_file)
    assert str(raised.value) == f"{env_file} is not UTF-8 text. Save it as UTF-8, or remove it."
