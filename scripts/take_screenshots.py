"""Screenshots of SmallChat's main screens, light and dark, desktop and phone, for the README.

Starts the fake provider and the real app (Debian's Chromium through Playwright, as the
browser tests do), seeds a few conversations by chatting, and writes PNGs to
``docs/screenshots/``. Run it from the project folder:

    .venv/bin/python -m scripts.take_screenshots
"""

from __future__ import annotations

import argparse
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.chat_page import (
    current_session_id,
    keyed_button,
    open_app,
    open_sidebar,
    send_message,
    session_button,
    sidebar,
    wait_until_idle,
)
from tests.e2e.harness import ROOT, browser_unavailable_reason, launch_browser, running_app
from tests.fake_provider import Failure, FakeProvider, Reply, error_body

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
HOSTED_BASE_URL = "https://api.groq.com/openai/v1"

# (message, scripted reply): realistic replies, so the screenshots show what a user sees.
OLDER_CHATS = [
    [
        (
            "Summarise the attached meeting notes from the quarterly planning review and list the action items",
            Reply(
                chunks=["Three action items came out of the review: ", "budget, hiring plan and the launch date."],
                prompt_tokens=1480,
                completion_tokens=96,
            ),
        )
    ],
    [
        (
            "Translate 'good morning' into Japanese",
            Reply(chunks=["おはようございます ", "(ohayō gozaimasu)."], prompt_tokens=18, completion_tokens=12),
        )
    ],
]
MAIN_CHAT = [
    (
        "What is prompt caching, in one sentence?",
        Reply(
            chunks=[
                "Prompt caching lets the provider reuse the start of a prompt it has already processed, ",
                "so repeated context is cheaper and comes back faster.",
            ],
            prompt_tokens=2006,
            cached_tokens=1920,
            completion_tokens=31,
        ),
    ),
    (
        "And what does it save me, in $?",
        Reply(
            chunks=[
                "At GPT-5 mini rates cached input costs $0.025 instead of $0.25 per 1M tokens:\n\n",
                "- 1,920 cached tokens cost $0.000048 instead of $0.00048\n",
                "- that is 90% off the repeated part of every prompt",
            ],
            prompt_tokens=2071,
            cached_tokens=1920,
            completion_tokens=58,
        ),
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    reason = browser_unavailable_reason()
    if reason:
        raise SystemExit(reason)
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        FakeProvider(echo_chunk_delay=0.0) as provider,
        tempfile.TemporaryDirectory(prefix="smallchat-shots-") as scratch,
        sync_playwright() as playwright,
    ):
        browser = launch_browser(playwright)
        workdir = Path(scratch)
        settings = {"AI_API_KEY": "sk-screenshots", "AI_BASE_URL": provider.base_url, "AI_MAX_RETRIES": "0"}
        shots = Shots(browser, args.out)
        with running_app(settings=settings, workdir=workdir) as app:
            main_chat = seed(shots, app.url, provider)
            shoot_chat_screens(shots, app.url, main_chat, theme="light")
            shoot_dialogs_and_errors(shots, app.url, main_chat, provider)
        with running_app(settings=settings, workdir=workdir, extra_args=("--theme.base", "dark")) as app:
            shoot_chat_screens(shots, app.url, main_chat, theme="dark")
        missing_key_dir = workdir / "missing-key"
        missing_key_dir.mkdir()
        with (
            running_app(settings={"AI_BASE_URL": HOSTED_BASE_URL}, workdir=missing_key_dir) as app,
            shots.page(DESKTOP) as page,
        ):
            open_app(page, app.url)
            shots.take(page, "missing-key.png")
        browser.close()
    for path in shots.written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


class Shots:
    def __init__(self, browser: Browser, out: Path) -> None:
        self.browser = browser
        self.out = out
        self.written: list[Path] = []

    @contextmanager
    def page(self, viewport: dict[str, int]) -> Iterator[Page]:
        context = self.browser.new_context(viewport=viewport, device_scale_factor=1)
        try:
            yield context.new_page()
        finally:
            context.close()

    def take(self, page: Page, name: str) -> None:
        wait_until_idle(page)
        # No hover highlight or focus ring from the last click in the picture.
        page.mouse.move(page.viewport_size["width"] - 5, page.viewport_size["height"] // 2)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.wait_for_timeout(300)  # let transitions (hover, dialog fade-in) finish
        path = self.out / name
        page.screenshot(path=path)
        self.written.append(path)


def chat(page: Page, provider: FakeProvider, exchanges: list[tuple[str, Reply]]) -> None:
    for text, reply in exchanges:
        provider.script(reply)
        send_message(page, text)


def seed(shots: Shots, url: str, provider: FakeProvider) -> str:
    """Chat a few conversations into the database; return the one the screenshots show."""
    with shots.page(DESKTOP) as page:
        for exchanges in OLDER_CHATS:
            open_app(page, url)
            chat(page, provider, exchanges)
        open_app(page, url)
        chat(page, provider, MAIN_CHAT)
        session_id = current_session_id(page)
    assert session_id is not None
    return session_id


def shoot_chat_screens(shots: Shots, url: str, session_id: str, *, theme: str) -> None:
    with shots.page(DESKTOP) as page:
        open_app(page, f"{url}/?session={session_id}")
        shots.take(page, f"chat-{theme}.png")
    with shots.page(PHONE) as page:
        open_app(page, f"{url}/?session={session_id}")
        shots.take(page, "chat-phone.png" if theme == "light" else f"chat-phone-{theme}.png")
        if theme == "light":
            open_sidebar(page)
            expect(session_button(page, session_id)).to_be_visible()
            shots.take(page, "sidebar-phone.png")


def shoot_dialogs_and_errors(shots: Shots, url: str, session_id: str, provider: FakeProvider) -> None:
    with shots.page(DESKTOP) as page:
        open_app(page, url)
        shots.take(page, "new-chat.png")

        open_app(page, f"{url}/?session={session_id}")
        keyed_button(sidebar(page), "delete").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        shots.take(page, "confirm-delete.png")
        page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("dialog")).to_have_count(0)

        open_app(page, url)
        provider.script(Failure(503, error_body("The model is overloaded, please try again later.")))
        send_message(page, "Are you there?", expect_reply=False)
        expect(page.get_by_test_id("stAlertContentError")).to_be_visible()
        shots.take(page, "provider-error.png")
        # Out of the other screenshots' sidebar: delete the chat that got the error.
        keyed_button(sidebar(page), "delete").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete chat").click()
        expect(page).not_to_have_url(re.compile(r"[?&]session="))
        wait_until_idle(page)


if __name__ == "__main__":
    main()
