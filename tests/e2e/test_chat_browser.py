"""The chat page in a real browser: what AppTest cannot see (streaming, layout, dialogs, links)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest

from tests.e2e.harness import PLAYWRIGHT_MISSING

pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING)

from playwright.sync_api import Page, expect

from tests.e2e.chat_page import (
    chat_input,
    cost_metric,
    current_session_id,
    keyed_button,
    messages,
    new_chat,
    open_app,
    open_sidebar,
    send_message,
    session_button,
    sidebar,
    wait_until_idle,
)
from tests.e2e.conftest import PHONE, assert_no_traceback
from tests.e2e.harness import RunningApp, running_app
from tests.fake_provider import Failure, FakeProvider, Reply, error_body

pytestmark = pytest.mark.browser


def heading(page: Page):
    return page.get_by_role("main").get_by_role("heading").first


def test_a_reply_streams_in_with_its_tokens_and_cost_and_the_sidebar_total_follows(
    page: Page, app_url: str, provider: FakeProvider
) -> None:
    words = ["Costs ", "$5 ", "today, ", "streamed ", "one ", "word ", "at ", "a ", "time."]
    resume = threading.Event()  # the provider holds the stream after three words until this is set
    provider.script(
        Reply(
            chunks=words,
            pause_before_chunk=4,
            resume=resume,
            prompt_tokens=2006,
            cached_tokens=1920,
            completion_tokens=300,
        )
    )
    open_app(page, app_url)
    expect(page).to_have_title("SmallChat")

    try:
        chat_input(page).fill("What does it cost?")
        chat_input(page).press("Enter")
        expect(messages(page)).to_have_count(2)
        reply = messages(page).last
        # Half-way: the first words are on screen, with no tokens or cost yet.
        expect(reply.get_by_test_id("stMarkdownContainer")).to_have_text("Costs $5 today,")
        expect(reply.get_by_test_id("stCaptionContainer")).to_have_count(0)
    finally:
        resume.set()

    expect(reply.get_by_test_id("stMarkdownContainer").first).to_have_text(
        "Costs $5 today, streamed one word at a time."
    )
    # GPT-5 mini: (2006 - 1920) * 0.25 + 1920 * 0.025 + 300 * 2.00 = 669.5 per 1M tokens. The forecast:
    # "What| does| it| cost|?" is 5 Llama 3 tokens + 3 framing + 3 priming = 11 prompt tokens and the
    # default 300-token reply: 11 * 0.25 + 300 * 2.00 = 602.75 per 1M, shown as $0.0006028.
    expect(reply.get_by_test_id("stCaptionContainer")).to_have_text(
        "2,006 in · 1,920 cached · 300 out · $0.0006695 · forecast $0.0006028"
    )
    wait_until_idle(page)
    expect(cost_metric(page)).to_have_text("$0.0006695")
    session_id = current_session_id(page)
    assert session_id
    expect(heading(page)).to_have_text("What does it cost?")
    expect(sidebar(page).locator(f".st-key-chat-row-{session_id}")).to_contain_text("$0.0006695")

    send_message(page, "again")
    # The echo counts the history: 18 + 44 + 5 characters = 67 // 4 + 1 = 17 prompt tokens;
    # "Echo: again" is 2 chunks, 2 completion tokens: 17 * 0.25 + 2 * 2.00 = 8.25 per 1M tokens.
    # (The forecast beside it depends on the tokenizer's count of the first reply: its own test
    # is in tests/test_forecast.py.)
    expect(messages(page).last.get_by_test_id("stCaptionContainer")).to_have_text(
        re.compile(r"^17 in · 0 cached · 2 out · \$0\.00000825 · forecast \$0\.\d+$")
    )
    # 669.5 + 8.25 = 677.75 per 1M tokens, shown to four significant figures (half to even).
    expect(cost_metric(page)).to_have_text("$0.0006778")
    totals = sidebar(page).get_by_test_id("stCaptionContainer").filter(has_text="messages")
    expect(totals).to_have_text(re.compile(r"^4\smessages · 2,023\sin · 1,920\scached · 302\sout$"))


def test_a_second_chat_then_back_through_the_sidebar_and_through_a_copied_link(
    page: Page, new_page, app_url: str
) -> None:
    open_app(page, app_url)
    send_message(page, "the first chat")
    first = current_session_id(page)

    new_chat(page)
    expect(heading(page)).to_have_text("SmallChat")
    expect(messages(page)).to_have_count(0)
    send_message(page, "the second chat")
    second = current_session_id(page)
    assert first and second and first != second
    copied_link = page.url

    session_button(page, first).click()
    expect(page).to_have_url(re.compile(rf"[?&]session={first}$"))
    expect(heading(page)).to_have_text("the first chat")
    expect(messages(page)).to_have_count(2)
    expect(messages(page).first).to_contain_text("the first chat")

    # The link opens the chat in another browser session, as a pasted link would.
    other = new_page()
    open_app(other, copied_link)
    expect(heading(other)).to_have_text("the second chat")
    expect(messages(other)).to_have_count(2)
    expect(messages(other).last).to_contain_text("Echo: the second chat")
    expect(keyed_button(sidebar(other), f"open-{second}")).to_be_visible()


def test_reset_and_delete_ask_first_and_cancel_keeps_everything(page: Page, app_url: str) -> None:
    open_app(page, app_url)
    send_message(page, "keep or lose")
    session_id = current_session_id(page)
    dialog = page.get_by_role("dialog")

    keyed_button(sidebar(page), "reset").click()
    expect(dialog).to_contain_text("Reset this chat?")
    expect(dialog).to_contain_text("All 2 messages of keep or lose will be deleted")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    wait_until_idle(page)
    expect(messages(page)).to_have_count(2)

    keyed_button(sidebar(page), "reset").click()
    dialog.get_by_role("button", name="Reset chat").click()
    expect(dialog).to_have_count(0)
    expect(messages(page)).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"[?&]session={session_id}$"))
    expect(cost_metric(page)).to_have_text("$0.00")
    wait_until_idle(page)

    keyed_button(sidebar(page), "delete").click()
    expect(dialog).to_contain_text("Delete this chat?")
    dialog.get_by_role("button", name="Delete chat").click()
    expect(dialog).to_have_count(0)
    expect(page).not_to_have_url(re.compile(r"[?&]session="))
    expect(heading(page)).to_have_text("SmallChat")
    expect(sidebar(page).locator(f".st-key-open-{session_id}")).to_have_count(0)


def test_a_provider_error_is_shown_inline_and_retry_sends_the_message_again(
    page: Page, app_url: str, provider: FakeProvider
) -> None:
    provider.script(Failure(503, error_body("The model is overloaded.")))
    open_app(page, app_url)
    reply = send_message(page, "are you there", expect_reply=False)
    expect(reply.get_by_test_id("stAlertContentError")).to_contain_text("server error (503)")
    expect(reply).to_contain_text("The model is overloaded.")
    expect(keyed_button(reply, "retry")).to_be_visible()
    session_id = current_session_id(page)
    assert session_id

    # Back to this chat later: the reason stays, with the button to send the message again.
    session_button(page, session_id).click()
    wait_until_idle(page)
    expect(messages(page).last.get_by_test_id("stAlertContentWarning")).to_contain_text("server error (503)")
    keyed_button(messages(page).last, "retry").click()
    expect(messages(page)).to_have_count(2)
    expect(messages(page).last).to_contain_text("Echo: are you there")
    # 13 characters // 4 + 1 = 4 prompt tokens, 4 chunks: 4 * 0.25 + 4 * 2.00 = 9 per 1M tokens.
    expect(messages(page).last.get_by_test_id("stCaptionContainer")).to_have_text(
        re.compile(r"^4 in · 0 cached · 4 out · \$0\.000009 · forecast \$0\.\d+$")
    )
    assert len(provider.chat_requests()) == 2


def test_long_titles_are_cut_cleanly_and_costs_line_up_on_the_right(page: Page, app_url: str) -> None:
    open_app(page, app_url)
    send_message(page, "A rather long first message that becomes the title of this chat in the sidebar list")
    new_chat(page)
    send_message(page, "Short one")

    rows = sidebar(page).locator('[class*="st-key-chat-row-"]')
    expect(rows).not_to_have_count(0)
    sidebar_box = sidebar(page).bounding_box()
    cost_right_edges = set()
    for row in rows.all():
        row_box = row.bounding_box()
        title = row.get_by_role("button").filter(visible=True)
        title_box = title.bounding_box()
        title_text_box = title.get_by_test_id("stMarkdownContainer").bounding_box()
        cost_box = row.get_by_test_id("stCaptionContainer").bounding_box()
        assert title_text_box["x"] - row_box["x"] < 4, "a chat's title does not start at the left edge"
        assert title_box["x"] + title_box["width"] <= cost_box["x"] + 1, "title and cost overlap"
        assert cost_box["x"] + cost_box["width"] <= sidebar_box["x"] + sidebar_box["width"]
        assert title_box["height"] < 48, "a chat's title wrapped onto a second line"
        cost_right_edges.add(round(cost_box["x"] + cost_box["width"]))
    assert len(cost_right_edges) == 1, f"costs are not right-aligned: {cost_right_edges}"

    long_title = rows.filter(has_text="A rather long").get_by_test_id("stMarkdownContainer").filter(visible=True)
    overflow = long_title.evaluate("e => [e.scrollWidth > e.clientWidth, getComputedStyle(e).textOverflow]")
    assert overflow == [True, "ellipsis"], "a long title is not cut with an ellipsis"


def test_the_chat_fits_a_phone_screen(new_page, app_url: str) -> None:
    page = new_page(viewport=PHONE)
    open_app(page, app_url)
    send_message(page, "Does this fit on a phone screen, with a title long enough to wrap?")

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the page scrolls sideways"
    box = chat_input(page).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert box["y"] + box["height"] <= PHONE["height"]
    # The sidebar starts closed on a phone and opens over the chat.
    open_sidebar(page)
    controls = [
        keyed_button(sidebar(page), "reset").bounding_box(),
        keyed_button(sidebar(page), "delete").bounding_box(),
        sidebar(page).get_by_role("button", name="edit icon").bounding_box(),
    ]
    assert len({round(control["y"]) for control in controls}) == 1, "rename, reset and delete are not in one row"
    assert all(control["x"] + control["width"] <= PHONE["width"] for control in controls)


@pytest.fixture(scope="module")
def keyless_server(browser) -> Iterator[RunningApp]:
    """The app with a hosted provider and no API key anywhere."""
    with running_app(settings={"AI_BASE_URL": "https://api.groq.com/openai/v1"}) as app:
        yield app


def test_without_a_key_the_page_says_where_to_set_one_and_sends_nothing(page: Page, keyless_server: RunningApp) -> None:
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    open_app(page, keyless_server.url)

    info = page.get_by_test_id("stAlertContentInfo")
    expect(info).to_contain_text("No API key is configured.")
    expect(info).to_contain_text("AI_API_KEY")
    expect(chat_input(page)).to_be_disabled()
    key_field = page.get_by_label("API key for this session")
    expect(key_field).to_have_attribute("type", "password")

    key_field.fill("gsk_typed-in-abcdef123456")
    page.get_by_role("button", name="Use this key").click()
    expect(info).to_have_count(0)
    expect(chat_input(page)).to_be_enabled()
    # Nothing is sent without the user: the page only ever talked to the app itself.
    assert [url for url in requested if not url.startswith(keyless_server.url)] == []
    assert_no_traceback(keyless_server)
