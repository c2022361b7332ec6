"""What a user does on the chat page, in Playwright terms (shared by the tests and the screenshot script)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Locator, Page, expect

PLACEHOLDER = "Message SmallChat"
REPLY_TIMEOUT_MS = 20_000


def wait_until_idle(page: Page, *, timeout: float = REPLY_TIMEOUT_MS) -> None:
    """The script run has finished and nothing on the page is left over from an earlier run."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=timeout)


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    expect(chat_input(page)).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    wait_until_idle(page)


def chat_input(page: Page) -> Locator:
    return page.get_by_placeholder(PLACEHOLDER)


def messages(page: Page) -> Locator:
    return page.get_by_test_id("stChatMessage")


def send_message(page: Page, text: str, *, expect_reply: bool = True) -> Locator:
    """Type ``text``, press Enter; return the assistant's bubble once its reply is complete."""
    before = messages(page).count()
    box = chat_input(page)
    box.fill(text)
    box.press("Enter")
    expect(messages(page)).to_have_count(before + 2, timeout=REPLY_TIMEOUT_MS)
    reply = messages(page).nth(before + 1)
    if expect_reply:
        expect(reply.get_by_test_id("stCaptionContainer")).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    wait_until_idle(page)
    return reply


def current_session_id(page: Page) -> str | None:
    values = parse_qs(urlparse(page.url).query).get("session")
    return values[0] if values else None


def sidebar(page: Page) -> Locator:
    return page.get_by_test_id("stSidebar")


def session_button(page: Page, session_id: str) -> Locator:
    """The sidebar's entry for a session (its button is keyed ``open-<uuid>``)."""
    return keyed_button(sidebar(page), f"open-{session_id}")


def keyed_button(scope: Page | Locator, key: str) -> Locator:
    """The button made with ``key=``. Streamlit draws a button with ``help`` twice (with and
    without its tooltip, one for pointer and one for touch screens) and shows one of them."""
    return scope.locator(f".st-key-{key} button").filter(visible=True)


def cost_metric(page: Page) -> Locator:
    """The current chat's Cost in the sidebar."""
    return sidebar(page).get_by_test_id("stMetricValue")


def new_chat(page: Page) -> None:
    sidebar(page).get_by_role("button", name="New chat").click()
    expect(page).not_to_have_url(re.compile(r"[?&]session="))
    wait_until_idle(page)


def open_sidebar(page: Page) -> None:
    """On a narrow screen the sidebar starts closed: open it and wait until it has slid in."""
    page.get_by_test_id("stExpandSidebarButton").click()
    page.wait_for_function(
        """() => {
          const box = document.querySelector('[data-testid="stSidebar"]').getBoundingClientRect();
          return box.x === 0 && box.width >= 240;
        }"""
    )
    wait_until_idle(page)
