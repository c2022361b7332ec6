"""Catalogue: several writers on one chat and one database at once, for a bounded time, on loopback only.

Two "browser sessions" drive the chat page's own use case (``send_message``: what the page
calls through ``start_reply``) on the app's shared store, as one Streamlit server serves two
tabs; a third writer comes through its own engine, as another process would; a fourth posts
to the REST API (in-process, through TestClient, on its own engine from ``create_app``). Writers
are a list of callables, so another front end joins by adding one.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import pytest
from fastapi.testclient import TestClient

from smallchat.api import create_app
from smallchat.chat import send_message
from smallchat.config import Settings
from smallchat.db import create_db_engine, upgrade_database
from smallchat.llm import make_client
from smallchat.repository import ChatStore
from tests.fake_provider import FakeProvider
from tests.reliability.conftest import assert_totals_equal_the_rows

# How long the writers run; CI keeps the minute the catalogue promises, a developer may shorten it.
DURATION_SECONDS = float(os.environ.get("SMALLCHAT_CONCURRENCY_SECONDS", "60"))
JOIN_SECONDS = 60  # after the deadline: a writer stuck in a request longer than this is a failure


@dataclass
class WriterReport:
    """What one writer did: the texts whose reply came back, and every error it met."""

    name: str
    sent: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


Writer = Callable[[threading.Event, WriterReport], None]


def use_case_writer(store: ChatStore, settings: Settings, session_id: str) -> Writer:
    """A writer that sends through the chat use case, as the page does."""
    client = make_client(settings)

    def write(stop: threading.Event, report: WriterReport) -> None:
        number = 0
        while not stop.is_set():
            number += 1
            text = f"{report.name} message {number}"
            try:
                send_message(store, client, settings, session_id=session_id, text=text)
            except Exception as error:  # recorded, never raised: every error is a finding
                report.errors.append(f"{type(error).__name__}: {error}")
            else:
                report.sent.append(text)

    return write


def api_writer(settings: Settings, session_id: str) -> Writer:
    """A writer that posts to the REST API, as a script would: the API opens its own engine."""

    def write(stop: threading.Event, report: WriterReport) -> None:
        with TestClient(create_app(settings), raise_server_exceptions=False) as api:
            number = 0
            while not stop.is_set():
                number += 1
                text = f"{report.name} message {number}"
                response = api.post(f"/sessions/{session_id}/chat", json={"message": text})
                # Any refusal is a finding, "database is locked" (a 503 storage_error) above all.
                if response.status_code != 200 or "locked" in response.text:
                    report.errors.append(f"{response.status_code}: {response.text[:500]}")
                else:
                    report.sent.append(text)

    return write


@pytest.fixture
def soak_provider() -> Iterator[FakeProvider]:
    # Its own server, with a pause between streamed words so that replies overlap each other's writes.
    with FakeProvider(echo_chunk_delay=0.002) as server:
        yield server


@pytest.mark.slow
def test_writers_on_one_chat_save_every_message_once_and_keep_totals_exact(
    store: ChatStore, settings: Settings, soak_provider: FakeProvider
) -> None:
    # A short context keeps each request small however long the chat grows.
    settings = replace(settings, base_url=soak_provider.base_url, max_context_messages=6)
    session_id = store.create_session(model=settings.model_name).id
    other_engine = create_db_engine(settings.database_url)
    upgrade_database(other_engine)
    writers: dict[str, Writer] = {
        "browser-1": use_case_writer(store, settings, session_id),
        "browser-2": use_case_writer(store, settings, session_id),
        "other-process": use_case_writer(ChatStore(other_engine), settings, session_id),
        "rest-api": api_writer(settings, session_id),
    }
    reader_errors: list[str] = []

    def read(stop: threading.Event) -> None:
        # The sidebar and history, redrawn by each rerun while the writers write.
        while not stop.is_set():
            try:
                store.list_sessions()
                store.list_messages(session_id, limit=50)
                store.get_session(session_id)
            except Exception as error:
                reader_errors.append(f"{type(error).__name__}: {error}")

    stop = threading.Event()
    reports = [WriterReport(name) for name in writers]
    threads = [
        threading.Thread(target=writer, args=(stop, report), name=report.name)
        for writer, report in zip(writers.values(), reports, strict=True)
    ]
    threads.append(threading.Thread(target=read, args=(stop,), name="reader"))
    for thread in threads:
        thread.start()
    try:
        time.sleep(DURATION_SECONDS)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=JOIN_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a writer did not stop"

    assert {report.name: report.errors for report in reports} == {name: [] for name in writers}
    assert reader_errors == []
    for report in reports:
        assert len(report.sent) >= 3, f"{report.name} barely ran: the case proves nothing"
    sent = [text for report in reports for text in report.sent]
    messages = store.list_messages(session_id)
    users = Counter(message.content for message in messages if message.role == "user")
    assert users == Counter(sent)  # every message saved, none twice, none invented
    assert max(users.values()) == 1
    assert sum(message.role == "assistant" for message in messages) == len(sent)
    assert_totals_equal_the_rows(store, session_id)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    other_engine.dispose()
