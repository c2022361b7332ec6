"""Catalogue: the cost analytics page and its CSV files, after chats that carry the key or markup.

A CSV is data: user text goes in exactly as typed (the csv module quotes it). The page is Markdown:
user text there is escaped, so no tag reaches the browser and ``$`` never starts a formula.
"""

from __future__ import annotations

import csv
import io

import openai
import pytest

from smallchat.chat import send_message
from smallchat.config import Settings
from smallchat.repository import ChatStore
from tests.apptest_helpers import ANALYTICS_PAGE, configure_app, downloaded, record_downloads, run_app
from tests.conftest import TEST_API_KEY
from tests.fake_provider import FakeProvider, Reply
from tests.reliability.conftest import converse_with_the_key_echoed, stored

# 49 characters: under the 60 a title keeps, so the title is the message exactly.
MARKUP = "<script>alert(1)</script> <b>hi</b> $5 or $6 **x**"


@pytest.fixture(autouse=True)
def _app_environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    configure_app(monkeypatch, settings)


def exported_files(monkeypatch: pytest.MonkeyPatch, session_id: str) -> tuple[object, dict[str, bytes]]:
    """The analytics page open on ``session_id`` and both of its CSV downloads, by key."""
    downloads = record_downloads(monkeypatch)
    app = run_app(page=ANALYTICS_PAGE, session_id=session_id)
    assert not app.exception
    files = {key: downloaded(app, key, downloads) for key in ("download_sessions", "download_messages")}
    return app, files


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_key_is_absent_from_the_exported_csv_files(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    provider: FakeProvider,
    session_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    converse_with_the_key_echoed(store, client, settings, provider, session_id)
    assert len(stored(store, session_id)) == 5  # one, its reply, again, again, the partial reply
    _, files = exported_files(monkeypatch, session_id)
    assert [len(csv_rows(files["download_sessions"])), len(csv_rows(files["download_messages"]))] == [1, 5]
    for name, data in files.items():
        assert TEST_API_KEY.encode() not in data, name


def test_user_markup_is_exported_as_typed_and_shown_escaped_on_the_analytics_page(
    store: ChatStore,
    client: openai.OpenAI,
    settings: Settings,
    provider: FakeProvider,
    session_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider.script(Reply(chunks=["ok"]))
    send_message(store, client, settings, session_id=session_id, text=MARKUP)
    app, files = exported_files(monkeypatch, session_id)
    # The files: the title (the first message) exactly as typed, in every row that names it.
    assert [row["title"] for row in csv_rows(files["download_sessions"])] == [MARKUP]
    assert [row["title"] for row in csv_rows(files["download_messages"])] == [MARKUP, MARKUP]
    # The page: the drill-down names the chat in Markdown, escaped character by character.
    assert r"**\<script\>alert\(1\)\</script\> \<b\>hi\</b\> \$5 or \$6 \*\*x\*\***" in [m.value for m in app.markdown]
    markdown_like = [*app.markdown, *app.caption, *app.subheader, *app.header, *app.title, *app.info, *app.warning]
    assert markdown_like, "nothing to search"
    for element in markdown_like:
        assert "<script>" not in element.value
        assert "$5 or $6" not in element.value  # an unescaped pair of $ would render as LaTeX
    # Tables hold the title as data: the grid draws it as text, never as HTML or Markdown.
    titles = [frame.value["Title"].tolist() for frame in app.dataframe if "Title" in frame.value.columns]
    assert titles == [[MARKUP]]
