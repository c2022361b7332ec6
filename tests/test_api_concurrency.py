"""Many requests at once: none waits for another's provider call, and every message is saved once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smallchat.api import create_app
from smallchat.chat import send_message
from smallchat.config import Settings
from smallchat.repository import ChatStore
from tests.fake_provider import FakeProvider, Reply


@pytest.fixture
def slow_provider(provider: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    """The echo, taking its time before each reply, so that concurrent requests overlap."""
    monkeypatch.setattr(provider, "echo_delay", 0.3)
    return provider


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def chat(api: TestClient | httpx.Client, session_id: str, message: str) -> httpx.Response:
    return api.post(f"/sessions/{session_id}/chat", json={"message": message})


def test_fifty_chats_at_once_all_wait_for_the_provider_together(
    api: TestClient, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The provider holds every reply until 50 requests are waiting on it at once (10 s at most).
    # Had the API's worker threads run out (anyio's default is 40), the rest would never arrive.
    monkeypatch.setattr(provider, "gather", 50)
    session_ids = [api.post("/sessions").json()["id"] for _ in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda sid: chat(api, sid, "hello").status_code, session_ids))
    assert statuses == [200] * 50
    assert provider.max_in_flight == 50


def test_concurrent_chats_on_one_session_and_on_many_are_each_saved_once(
    api: TestClient, slow_provider: FakeProvider, store: ChatStore
) -> None:
    shared = api.post("/sessions").json()["id"]
    own = [api.post("/sessions").json()["id"] for _ in range(15)]
    jobs = [(shared, f"shared {n}") for n in range(15)] + [(sid, f"own {n}") for n, sid in enumerate(own)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        responses = list(pool.map(lambda job: chat(api, *job), jobs))
    assert [response.status_code for response in responses] == [200] * len(jobs)

    shared_messages = store.list_messages(shared)
    assert Counter(m.role for m in shared_messages) == {"user": 15, "assistant": 15}
    assert sorted(m.content for m in shared_messages if m.role == "user") == sorted(f"shared {n}" for n in range(15))
    # Each reply saved once: the ids the API returned are exactly the stored replies.
    stored_reply_ids = sorted(m.id for m in shared_messages if m.role == "assistant")
    assert sorted(r.json()["reply"]["id"] for r in responses[:15]) == stored_reply_ids
    # The session's running total is the exact sum of its replies' costs.
    total = sum(Decimal(r.json()["reply"]["cost"]["usd"]) for r in responses[:15])
    assert store.get_session(shared).cost == total
    assert store.get_session(shared).message_count == 30

    for n, session_id in enumerate(own):
        assert [(m.role, m.content) for m in store.list_messages(session_id)] == [
            ("user", f"own {n}"),
            ("assistant", f"Echo: own {n}"),
        ]


def test_a_chat_on_the_page_and_chats_through_the_api_on_one_database_all_succeed(
    api: TestClient, slow_provider: FakeProvider, store: ChatStore, client: openai.OpenAI, settings: Settings
) -> None:
    # ``store`` has its own engine, as the Streamlit process has: two processes, one SQLite file.
    session_id = api.post("/sessions").json()["id"]

    def on_the_page(n: int) -> str:
        return send_message(store, client, settings, session_id=session_id, text=f"page {n}").content

    def through_the_api(n: int) -> str:
        response = chat(api, session_id, f"api {n}")
        assert response.status_code == 200, response.text
        return response.json()["reply"]["content"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        page = [pool.submit(on_the_page, n) for n in range(10)]
        through_api = [pool.submit(through_the_api, n) for n in range(10)]
        replies = [future.result() for future in page + through_api]
    assert all(reply.startswith("Echo: ") for reply in replies)
    users = sorted(m.content for m in store.list_messages(session_id) if m.role == "user")
    assert users == sorted([f"page {n}" for n in range(10)] + [f"api {n}" for n in range(10)])
    assert store.get_session(session_id).message_count == 40


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_client_that_hangs_up_mid_stream_leaves_the_partial_reply_saved_as_incomplete(
    settings: Settings, provider: FakeProvider, store: ChatStore
) -> None:
    words = [f"w{n} " for n in range(40)]
    provider.script(Reply(chunks=words, chunk_delay_seconds=0.05))
    with running_server(create_app(settings)) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        session_id = http.post("/sessions").json()["id"]
        request = {"message": "count", "stream": True}
        with http.stream("POST", f"/sessions/{session_id}/chat", json=request) as response:
            first = next(response.iter_lines())
        assert first == "event: delta"
        # The server notices at its next write; give it a moment to save what arrived.
        deadline = time.monotonic() + 10
        while store.list_messages(session_id)[-1].role != "assistant" and time.monotonic() < deadline:
            time.sleep(0.05)
    reply = store.list_messages(session_id)[-1]
    assert reply.role == "assistant"
    assert reply.complete is False
    assert reply.content and "".join(words).startswith(reply.content)
    assert reply.content != "".join(words)


def preparations_at_once(store: ChatStore, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many of 6 simultaneous messages were being prepared (history read) at the same moment."""
    counts = {"now": 0, "most": 0}
    guard = threading.Lock()
    read = ChatStore.get_session_with_messages

    def slow_read(self: ChatStore, session_id: str) -> Any:
        with guard:
            counts["now"] += 1
            counts["most"] = max(counts["most"], counts["now"])
        time.sleep(0.05)  # long enough for the others to arrive, were they let in
        with guard:
            counts["now"] -= 1
        return read(self, session_id)

    monkeypatch.setattr(ChatStore, "get_session_with_messages", slow_read)
    sessions = [store.create_session(model=settings.model_name).id for _ in range(6)]
    client = openai.OpenAI(api_key=settings.api_key, base_url=settings.base_url, max_retries=0)
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda sid: send_message(store, client, settings, session_id=sid, text="hi"), sessions))
    assert [reply.content for reply in replies] == ["Echo: hi"] * 6
    return counts["most"]


def test_on_sqlite_messages_are_prepared_one_at_a_time(
    store: ChatStore, settings: Settings, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert store.database_in_process
    assert preparations_at_once(store, settings, monkeypatch) == 1


def test_on_a_database_server_preparations_overlap(
    store: ChatStore, settings: Settings, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a PostgreSQL store reports; the preparations' network waits overlap there.
    monkeypatch.setattr(ChatStore, "database_in_process", property(lambda self: False))
    assert preparations_at_once(store, settings, monkeypatch) > 1
