"""Running app.py and the pages under Streamlit's AppTest against the fake provider."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from smallchat.config import Settings

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"


def configure_app(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the app at the test's provider and database, through the environment as a user would."""
    monkeypatch.setenv("AI_API_KEY", settings.api_key)
    monkeypatch.setenv("AI_BASE_URL", settings.base_url)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("AI_MAX_RETRIES", str(settings.max_retries))
    monkeypatch.setenv("AI_TIMEOUT_SECONDS", str(settings.request_timeout_seconds))
    # Settings, store and client are cached per process: a test must not see another's.
    st.cache_resource.clear()
    st.cache_data.clear()


def run_app(path: Path = APP, *, session_id: str | None = None) -> AppTest:
    app = AppTest.from_file(str(path), default_timeout=20)
    if session_id is not None:
        app.query_params["session"] = session_id
    return app.run()


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def markdown_texts(app: AppTest) -> list[str]:
    return [element.value for element in app.markdown]


def shown(value: str) -> str:
    """The text a person reads in an element whose value went through ``escape_markdown``."""
    return re.sub(r"\\(.)", r"\1", value).replace("  \n", "\n")
