"""One Settings object, read from the environment, a .env file and Streamlit secrets.

Precedence, highest first: process environment, ``.env`` in the working directory,
Streamlit secrets (passed in by the UI as a plain mapping; the REST API reads the same
files itself), built-in defaults. The core never imports streamlit: the UI hands
``st.secrets`` over as a dict.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values

from smallchat.errors import ConfigError

DEFAULT_BASE_URL = "https://api.groq.com/openai/v1"
DEFAULT_MODEL = "llama-3.3-70b-versatile"
DEFAULT_DATABASE_URL = "sqlite:///./chat_history.db"
# Budgets are stored in whole picodollars (a 64-bit integer): from a millionth of a dollar,
# which is still many picodollars, to a million dollars, far below the column's limit.
MIN_BUDGET_USD = Decimal("0.000001")
MAX_BUDGET_USD = Decimal("1000000")
BUDGET_RANGE = "between $0.000001 and $1,000,000"
PRICING_MODES = ("default", "list", "custom")


@dataclass(frozen=True)
class Settings:
    """Everything SmallChat can be configured with."""

    api_key: str = field(default="", repr=False)
    model_name: str = DEFAULT_MODEL
    base_url: str = DEFAULT_BASE_URL
    database_url: str = DEFAULT_DATABASE_URL
    # "default": GPT-5 mini rates for every model; "list": each model's own list price
    # from genai-prices; "custom": the three rates below.
    pricing: str = "default"
    custom_input_per_mtok: Decimal | None = None
    custom_cached_input_per_mtok: Decimal | None = None
    custom_output_per_mtok: Decimal | None = None
    system_prompt: str = ""
    # Context control: the most tokens / messages of history sent with a request
    # (None: no limit). The system prompt is always sent.
    max_context_tokens: int | None = None
    max_context_messages: int | None = None
    # The model's context window, when genai-prices does not know it.
    context_window_tokens: int | None = None
    max_output_tokens: int | None = None
    # Budgets in USD (None: no budget).
    daily_budget_usd: Decimal | None = None
    session_budget_usd: Decimal | None = None
    request_timeout_seconds: float = 60.0
    max_retries: int = 2
    max_message_chars: int = 100_000
    ui_url: str = "http://localhost:8501"
    api_token: str = field(default="", repr=False)

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key.strip())

    def with_api_key(self, api_key: str) -> Settings:
        """A copy that uses ``api_key`` (e.g. one typed in for this browser session)."""
        return replace(self, api_key=api_key.strip())


# Setting name -> (field, parser). Names keep the product's established spelling.
def _decimal(name: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ConfigError(f"{name} must be a number of US dollars per 1M tokens, got {raw!r}.") from None
    if not value.is_finite() or value < 0:
        raise ConfigError(f"{name} must be a non-negative number, got {raw!r}.")
    return value


def _usd(name: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw.strip().lstrip("$"))
    except InvalidOperation:
        raise ConfigError(f"{name} must be an amount of US dollars, got {raw!r}.") from None
    if not value.is_finite() or not MIN_BUDGET_USD <= value <= MAX_BUDGET_USD:
        raise ConfigError(f"{name} must be {BUDGET_RANGE}, got {raw!r}.")
    return value


def _positive_int(name: str, raw: str) -> int:
    value = _non_negative_int(name, raw)
    if value == 0:
        raise ConfigError(f"{name} must be at least 1, got {raw!r}.")
    return value


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}.") from None
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name} must be a number greater than 0, got {raw!r}.")
    return value


def _non_negative_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}.")
    return value


def _pricing_mode(name: str, raw: str) -> str:
    mode = raw.strip().lower()
    if mode not in PRICING_MODES:
        raise ConfigError(f"{name} must be one of {', '.join(PRICING_MODES)}; got {raw!r}.")
    return mode


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _ui_url(name: str, raw: str) -> str:
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http:// or https:// address, got {url!r}.")
    return url


def _base_url(name: str, raw: str) -> str:
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http:// or https:// address, got {url.split('?')[0]!r}.")
    if parts.query or parts.fragment:
        # The SDK appends paths to it: a query would end up inside every request's path.
        raise ConfigError(f"{name} must not have a query (?...) or fragment (#...); put the key in AI_API_KEY.")
    return url


_SETTINGS_BY_NAME: dict[str, tuple[str, Any]] = {
    "AI_API_KEY": ("api_key", _text),
    "AI_MODEL_NAME": ("model_name", _text),
    "AI_BASE_URL": ("base_url", _base_url),
    "DATABASE_URL": ("database_url", _text),
    "AI_PRICING": ("pricing", _pricing_mode),
    "AI_PRICE_INPUT_PER_MTOK": ("custom_input_per_mtok", _decimal),
    "AI_PRICE_CACHED_INPUT_PER_MTOK": ("custom_cached_input_per_mtok", _decimal),
    "AI_PRICE_OUTPUT_PER_MTOK": ("custom_output_per_mtok", _decimal),
    "AI_SYSTEM_PROMPT": ("system_prompt", lambda name, raw: raw),
    "AI_MAX_CONTEXT_TOKENS": ("max_context_tokens", _positive_int),
    "AI_MAX_CONTEXT_MESSAGES": ("max_context_messages", _positive_int),
    "AI_CONTEXT_WINDOW": ("context_window_tokens", _positive_int),
    "AI_MAX_OUTPUT_TOKENS": ("max_output_tokens", _positive_int),
    "BUDGET_DAILY_USD": ("daily_budget_usd", _usd),
    "BUDGET_SESSION_USD": ("session_budget_usd", _usd),
    "AI_TIMEOUT_SECONDS": ("request_timeout_seconds", _positive_float),
    "AI_MAX_RETRIES": ("max_retries", _non_negative_int),
    "MAX_MESSAGE_CHARS": ("max_message_chars", _positive_int),
    "UI_URL": ("ui_url", _ui_url),
    "API_TOKEN": ("api_token", _text),
}
SETTING_NAMES = tuple(_SETTINGS_BY_NAME)


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    env_file: str | Path | None = ".env",
    secrets: Mapping[str, Any] | None = None,
) -> Settings:
    """Read settings: environment, then ``env_file``, then ``secrets``, then defaults."""
    environ = os.environ if environ is None else environ
    try:
        file_values = dotenv_values(env_file) if env_file and Path(env_file).is_file() else {}
    except UnicodeDecodeError:
        raise ConfigError(f"{env_file} is not UTF-8 text. Save it as UTF-8, or remove it.") from None
    sources: list[Mapping[str, Any]] = [environ, file_values, secrets or {}]

    values: dict[str, Any] = {}
    for name, (field_name, parse) in _SETTINGS_BY_NAME.items():
        for source in sources:
            raw = source.get(name)
            if raw is not None and str(raw).strip() != "":
                values[field_name] = parse(name, str(raw))
                break
    settings = Settings(**values)
    _check_custom_rates(settings)
    return settings


def secrets_file_paths() -> list[Path]:
    """Where Streamlit looks for ``secrets.toml``, in its order: the user's, then the project's."""
    return [Path.home() / ".streamlit" / "secrets.toml", Path(".streamlit") / "secrets.toml"]


def read_secrets_files(paths: Sequence[Path] | None = None) -> dict[str, Any]:
    """The top-level values of Streamlit's secrets files, for a process that does not run Streamlit.

    The REST API reads the same secrets as the chat page, so that both use one database and a
    token kept only in ``secrets.toml`` still protects the API. A later file overrides an earlier
    one, as in Streamlit. A file that does not parse stops the caller with its name: silently
    ignored, it could leave the API open.
    """
    values: dict[str, Any] = {}
    for path in secrets_file_paths() if paths is None else paths:
        if not path.is_file():
            continue
        try:
            parsed = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path} is not valid TOML ({error}). Fix it or remove it.") from None
        values.update({key: value for key, value in parsed.items() if not isinstance(value, dict)})
    return values


def _check_custom_rates(settings: Settings) -> None:
    if settings.pricing != "custom":
        return
    missing = [
        name
        for name, value in (
            ("AI_PRICE_INPUT_PER_MTOK", settings.custom_input_per_mtok),
            ("AI_PRICE_OUTPUT_PER_MTOK", settings.custom_output_per_mtok),
        )
        if value is None
    ]
    if missing:
        raise ConfigError(f"AI_PRICING=custom needs {' and '.join(missing)} (US dollars per 1M tokens).")
