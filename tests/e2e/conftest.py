"""Fixtures for the browser tests: the fake provider, the real app, Debian's Chromium.

The app runs as ``streamlit run app.py`` in its own process, one server per test module;
every test gets a fresh browser context (so a fresh Streamlit session) and fails if the
page logged an error to the browser console.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tests.conftest import TEST_API_KEY
from tests.e2e.harness import RunningApp, browser_unavailable_reason, launch_browser, running_app
from tests.fake_provider import FakeProvider

# The echo sends one word per chunk: a short pause makes its replies stream as a provider's do.
ECHO_CHUNK_DELAY = 0.02
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# .ci/run sets this: in CI a missing browser stops the run instead of skipping these tests.
if os.environ.get("SMALLCHAT_REQUIRE_BROWSER") == "1" and browser_unavailable_reason():
    raise RuntimeError(f"SMALLCHAT_REQUIRE_BROWSER=1, but {browser_unavailable_reason()}")


@pytest.fixture(scope="session")
def browser() -> Iterator:
    reason = browser_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    # Room for a machine busy with other test runs; a passing check returns as soon as it holds.
    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def streaming_provider() -> Iterator[FakeProvider]:
    with FakeProvider(echo_chunk_delay=ECHO_CHUNK_DELAY) as server:
        yield server


@pytest.fixture
def provider(streaming_provider: FakeProvider) -> Iterator[FakeProvider]:
    """The browser tests' provider, with an empty script and no recorded requests."""
    streaming_provider.reset()
    yield streaming_provider
    streaming_provider.reset()


def app_settings(provider: FakeProvider) -> dict[str, str]:
    """The app's environment for chatting with ``provider`` (no retries: errors show at once)."""
    return {
        "AI_API_KEY": TEST_API_KEY,
        "AI_BASE_URL": provider.base_url,
        "AI_MAX_RETRIES": "0",
        "AI_TIMEOUT_SECONDS": "10",
    }


@pytest.fixture(scope="module")
def chat_server(browser, streaming_provider: FakeProvider) -> Iterator[RunningApp]:
    """One app server per module, with a temp database, talking to the fake provider."""
    with running_app(settings=app_settings(streaming_provider)) as app:
        yield app


@pytest.fixture
def app_url(chat_server: RunningApp, provider: FakeProvider) -> Iterator[str]:
    """The app's address; the test fails if the server logged a traceback meanwhile."""
    log_before = len(chat_server.log())
    yield chat_server.url
    assert_no_traceback(chat_server, since=log_before)


def assert_no_traceback(app: RunningApp, *, since: int = 0) -> None:
    # showErrorDetails = "none" hides exceptions from the page: they only show in the log.
    logged = app.log()[since:]
    if "Traceback" in logged:
        pytest.fail(f"the app logged an exception:\n{logged}")


@dataclass
class ConsoleErrors:
    """Errors the pages logged to the browser console, and uncaught exceptions."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page) -> None:
        page.on("console", lambda message: self._on_console(message))
        page.on("pageerror", lambda error: self.messages.append(f"uncaught: {error}"))

    def _on_console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url")
            self.messages.append(f"{message.text} ({where})" if where else message.text)


@pytest.fixture
def new_page(browser) -> Iterator[Callable[..., object]]:
    """Open pages in fresh browser contexts (each its own Streamlit session); checks their consoles."""
    contexts = []
    errors = ConsoleErrors()

    def open_page(*, viewport: dict[str, int] = DESKTOP):
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        errors.watch(page)
        return page

    yield open_page
    for context in contexts:
        context.close()
    # No filter: a closed network and the fake provider produce no console errors in this app.
    # Anything logged here is a real defect (a failed request, a React error, a script error).
    assert errors.messages == [], "the browser console logged errors"


@pytest.fixture
def page(new_page):
    """A desktop-sized page (1280×800)."""
    return new_page()
