"""Shared fixtures: a fresh database per test and one fake OpenAI-compatible provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from smallchat.config import SETTING_NAMES, Settings
from smallchat.db import create_db_engine, upgrade_database
from smallchat.llm import make_client
from smallchat.repository import ChatStore
from tests.factories import Clock
from tests.fake_provider import FakeProvider

TEST_API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="session", autouse=True)
def _release_app_resources() -> Iterator[None]:
    """At the end, close what the pages cached (SDK clients, engines) rather than leave their
    sockets to the garbage collector, whose ResourceWarning would fail the run after the fact."""
    yield
    import streamlit as st

    st.cache_resource.clear()


@pytest.fixture(scope="session")
def _provider_server() -> Iterator[FakeProvider]:
    with FakeProvider() as server:
        yield server


@pytest.fixture
def provider(_provider_server: FakeProvider) -> Iterator[FakeProvider]:
    """The fake provider with an empty script and no recorded requests."""
    _provider_server.reset()
    yield _provider_server
    _provider_server.reset()


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's settings, .env file or database."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'chat.db'}"


@pytest.fixture
def settings(provider: FakeProvider, database_url: str) -> Settings:
    return Settings(
        api_key=TEST_API_KEY,
        base_url=provider.base_url,
        database_url=database_url,
        max_retries=0,
        request_timeout_seconds=5,
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[ChatStore]:
    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    yield ChatStore(engine)
    engine.dispose()


@pytest.fixture
def client(settings: Settings) -> openai.OpenAI:
    return make_client(settings)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The store's clock, set by the test: rows land on the days the test chooses."""
    fake = Clock()
    monkeypatch.setattr("smallchat.repository.utc_now", fake)
    return fake
