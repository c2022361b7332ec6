"""Speed of the chat path: first token, long sessions, start-up, and storage.

Each figure is a ratio measured side by side in the same run (medians of several runs):

- first token: "send" to the first streamed character through SmallChat's chat use case
  versus the bare openai SDK call, against a local fake provider answering after 50 ms;
- long session: a rerun of the chat page (AppTest) for a session of 5,000 messages versus
  one of 50;
- start-up: the first render of app.py on an empty database versus a minimal Streamlit
  chat app (bench/minimal_chat_app.py), each in a fresh process;
- storage: writing one exchange (user message + reply with usage) on SQLite, and listing
  10,000 sessions with their totals versus a hand-written sqlite3 query.

Run: ``python -m bench.bench_chat`` (``--smoke`` for a quick, small run).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import openai

from bench.harness import Figure, median_seconds, ratio_figure, report
from smallchat.chat import start_reply
from smallchat.config import Settings
from smallchat.db import create_db_engine, upgrade_database
from smallchat.llm import make_client
from smallchat.pricing import DEFAULT_TARIFF
from smallchat.repository import ChatStore, NewReply
from smallchat.usage import TokenUsage
from tests.fake_provider import FakeProvider, Reply

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_DELAY_SECONDS = 0.05
BENCH_MODEL = "llama-3.3-70b-versatile"


def new_store(folder: Path, name: str) -> tuple[ChatStore, str]:
    url = f"sqlite:///{folder / name}"
    engine = create_db_engine(url)
    upgrade_database(engine)
    return ChatStore(engine), url


def bench_first_token(folder: Path, provider: FakeProvider, *, runs: int) -> Figure:
    store, url = new_store(folder, "first-token.db")
    settings = Settings(api_key="sk-bench", base_url=provider.base_url, database_url=url, max_retries=0)
    client = make_client(settings)
    bare = openai.OpenAI(api_key="sk-bench", base_url=provider.base_url, max_retries=0)
    text = "What does prompt caching save?"

    def ours() -> float:
        session_id = store.create_session(model=settings.model_name).id
        provider.script(Reply(delay_seconds=PROVIDER_DELAY_SECONDS))
        started = time.perf_counter()
        pending = start_reply(store, client, settings, session_id=session_id, text=text)
        parts = iter(pending)
        next(parts)
        elapsed = time.perf_counter() - started
        for _ in parts:
            pass
        return elapsed

    def baseline() -> float:
        provider.script(Reply(delay_seconds=PROVIDER_DELAY_SECONDS))
        started = time.perf_counter()
        stream = bare.chat.completions.create(
            model=settings.model_name,
            messages=[{"role": "user", "content": text}],
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        elapsed = time.perf_counter() - started
        for _ in stream:
            pass
        return elapsed

    ours(), baseline()  # warm up: connections, tokenizer, price table
    return ratio_figure(
        "first token vs bare SDK",
        ours,
        baseline,
        runs=runs,
        at_most=1.05,
        note=f"provider answers after {PROVIDER_DELAY_SECONDS * 1000:.0f} ms",
    )


def priced_reply(content: str, usage: TokenUsage, *, content_tokens: int, forecast: Decimal | None = None) -> NewReply:
    """A complete reply priced at the default tariff, as the chat use case would save it."""
    return NewReply(
        content=content,
        model=BENCH_MODEL,
        usage=usage,
        usage_estimated=False,
        complete=True,
        cost=DEFAULT_TARIFF.cost(usage),
        tariff=DEFAULT_TARIFF,
        content_tokens=content_tokens,
        forecast_cost=forecast,
    )


def seed_conversation(store: ChatStore, *, messages: int) -> str:
    session_id = store.create_session(model=BENCH_MODEL).id
    reply = priced_reply("A reply of a few sentences, " * 8, TokenUsage(prompt=1200, completion=250), content_tokens=60)
    for _ in range(messages // 2):
        store.add_user_message(session_id, content="A question of one line?", content_tokens=9)
        store.add_reply(session_id, reply=reply)
    return session_id


def bench_long_session(folder: Path, provider: FakeProvider, *, long_messages: int, runs: int) -> Figure:
    from streamlit.testing.v1 import AppTest

    from tests.apptest_helpers import APP

    store, url = new_store(folder, "long-session.db")
    short_id = seed_conversation(store, messages=50)
    long_id = seed_conversation(store, messages=long_messages)
    os.environ.update(AI_API_KEY="sk-bench", AI_BASE_URL=provider.base_url, DATABASE_URL=url)

    def rerun_for(session_id: str):
        app = AppTest.from_file(str(APP), default_timeout=120)
        app.query_params["session"] = session_id
        app.run()
        assert not app.exception, app.exception

        def once() -> float:
            started = time.perf_counter()
            app.run()
            return time.perf_counter() - started

        return once

    long_rerun, short_rerun = rerun_for(long_id), rerun_for(short_id)
    return ratio_figure(
        f"page rerun, {long_messages:,} vs 50 messages", long_rerun, short_rerun, runs=runs, at_most=1.2
    )


_FIRST_RENDER = """
import sys, time
from streamlit.testing.v1 import AppTest
started = time.perf_counter()
app = AppTest.from_file(sys.argv[1], default_timeout=120).run()
elapsed = time.perf_counter() - started
assert not app.exception, app.exception
print(elapsed)
"""


def first_render_seconds(script: Path, env: dict[str, str], cwd: Path) -> float:
    """The first render of ``script`` in a fresh process (imports included)."""
    result = subprocess.run(
        [sys.executable, "-c", _FIRST_RENDER, str(script)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return float(result.stdout.strip().splitlines()[-1])


def bench_startup(folder: Path, provider: FakeProvider, *, runs: int) -> Figure:
    env = {
        **os.environ,
        "AI_API_KEY": "sk-bench",
        "AI_BASE_URL": provider.base_url,
        "AI_MODEL_NAME": BENCH_MODEL,
        "PYTHONPATH": str(ROOT),
    }
    counter = iter(range(10_000))

    def ours() -> float:
        # A new database file each time: the first start of a new user, migrations included.
        return first_render_seconds(
            ROOT / "app.py", {**env, "DATABASE_URL": f"sqlite:///{folder / f'start-{next(counter)}.db'}"}, folder
        )

    def baseline() -> float:
        return first_render_seconds(ROOT / "bench" / "minimal_chat_app.py", env, folder)

    return ratio_figure(
        "start-up vs minimal chat app",
        ours,
        baseline,
        runs=runs,
        at_most=1.5,
        ms_digits=0,
        note="first render, fresh process",
    )


def bench_write_exchange(folder: Path, *, runs: int) -> Figure:
    store, _ = new_store(folder, "writes.db")
    session_id = store.create_session(model=BENCH_MODEL).id
    reply = priced_reply(
        "A reply.", TokenUsage(prompt=2006, cached=1920, completion=300), content_tokens=6, forecast=Decimal("0.0006")
    )

    def exchange() -> None:
        store.add_user_message(session_id, content="A question?", content_tokens=6)
        store.add_reply(session_id, reply=reply)

    median = median_seconds(exchange, runs=runs, warmup=5)
    return Figure(
        "write one exchange (SQLite)",
        median * 1000,
        "ms",
        "<= 2 ms",
        median <= 0.002,
        "user message + reply with usage, two transactions",
    )


def seed_sessions(path: Path, count: int) -> None:
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO chat_sessions (id, title, model, created_at, updated_at, message_count, prompt_tokens, "
            "cached_tokens, completion_tokens, cost_picodollars, unpriced_replies, estimated_replies) "
            "VALUES (?, ?, 'llama-3.3-70b-versatile', ?, ?, 40, 48000, 0, 5000, 22000000000, 0, 0)",
            (
                (
                    str(uuid.uuid4()),
                    f"Chat number {n}",
                    "2026-09-01 10:00:00.000000",
                    f"2026-09-{1 + n % 28:02d} 10:00:00.{n:06d}",
                )
                for n in range(count)
            ),
        )


def bench_list_sessions(folder: Path, *, sessions: int, runs: int) -> Figure:
    store, _ = new_store(folder, "sessions.db")
    path = folder / "sessions.db"
    seed_sessions(path, sessions)
    hand_written = sqlite3.connect(path)
    query = (
        "SELECT id, title, model, created_at, updated_at, message_count, prompt_tokens, cached_tokens, "
        "completion_tokens, cost_picodollars, unpriced_replies, estimated_replies, budget_picodollars "
        "FROM chat_sessions ORDER BY updated_at DESC, id"
    )

    def ours() -> float:
        started = time.perf_counter()
        listing = store.list_sessions(limit=None)
        listing[0], listing[len(listing) - 1]
        return time.perf_counter() - started

    def baseline() -> float:
        started = time.perf_counter()
        hand_written.execute(query).fetchall()
        return time.perf_counter() - started

    ours(), baseline()
    return ratio_figure(f"list {sessions:,} sessions with totals vs sqlite3", ours, baseline, runs=runs, at_most=1.3)


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes and few runs (for CI)")
    args = parser.parse_args(argv)
    runs = 3 if args.smoke else 15
    with tempfile.TemporaryDirectory() as temp, FakeProvider() as provider:
        folder = Path(temp)
        figures = [
            bench_first_token(folder, provider, runs=runs if args.smoke else 40),
            bench_long_session(folder, provider, long_messages=500 if args.smoke else 5000, runs=runs),
            bench_startup(folder, provider, runs=2 if args.smoke else 7),
            bench_write_exchange(folder, runs=20 if args.smoke else 300),
            bench_list_sessions(folder, sessions=1000 if args.smoke else 10_000, runs=runs),
        ]
    report("chat-smoke" if args.smoke else "chat", figures)
    return figures


if __name__ == "__main__":
    main()
