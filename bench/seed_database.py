"""Fill a SQLite database with realistic chat history for benchmarks and manual testing.

    python bench/seed_database.py /tmp/bench/chat.db                      # 1,000,000 messages
    python bench/seed_database.py /tmp/small.db --messages 2000 --sessions 40 --days 14

The schema comes from SmallChat's own migrations, so the file is exactly what the app would
create; the rows are then written with plain ``sqlite3`` ``executemany`` (secondary indexes
are dropped during the load and rebuilt afterwards, which is several times faster than
updating them row by row). Messages are inserted in time order, interleaved across sessions,
as a real app writes them. Costs are whole picodollars computed from the same rates the app
uses, and each session's running totals equal the sums of its messages.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smallchat.db import create_db_engine, upgrade_database

# SQLAlchemy's own text format for naive UTC datetimes on SQLite.
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
PICODOLLARS_PER_MTOK_DOLLAR = 10**6  # $1 per 1M tokens is 1,000,000 picodollars per token
SYSTEM_PROMPT_TOKENS = 20


@dataclass(frozen=True)
class SeedModel:
    name: str
    share: float
    # USD per 1M tokens (input, cached input, output); None: no known price, cost stays NULL.
    rates: tuple[str, str, str] | None
    source: str | None
    pricing_model: str | None
    reasoning: bool = False


MODELS = (
    # The app's default: Groq's free model priced at the GPT-5 mini default tariff.
    SeedModel("llama-3.3-70b-versatile", 0.45, ("0.25", "0.025", "2.00"), "default tariff", "gpt-5-mini"),
    SeedModel("gpt-5-mini", 0.20, ("0.25", "0.025", "2"), "genai-prices: openai/gpt-5-mini", "gpt-5-mini", True),
    SeedModel("gpt-4o-mini", 0.15, ("0.15", "0.075", "0.6"), "genai-prices: openai/gpt-4o-mini", "gpt-4o-mini"),
    SeedModel("claude-haiku-4-5", 0.15, ("1", "0.1", "5"), "genai-prices: anthropic", "claude-haiku-4-5"),
    SeedModel("local-llama", 0.05, None, None, None),
)

TOPICS = (
    "Trip planning",
    "Python bug",
    "Recipe ideas",
    "Tax question",
    "SQL query",
    "Cover letter",
    "Garden layout",
    "Physics homework",
    "Birthday gift",
    "Docker compose",
    "Marathon training",
    "Invoice template",
)

SAMPLE_TEXT = (
    "the cost of each message grows with the context because every reply resends the whole "
    "conversation so far and prompt caching makes the repeated part cheaper but not free "
    "which is why a long chat about one topic can cost more than many short ones"
)


@dataclass
class SessionPlan:
    id: str
    title: str
    models: tuple[SeedModel, ...]
    turns: int
    unanswered: bool = False


def build_text_pool(rng: random.Random, size: int) -> str:
    vocabulary = SAMPLE_TEXT.split()
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(vocabulary)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def plan_sessions(rng: random.Random, *, messages: int, sessions: int) -> list[SessionPlan]:
    """Split ``messages`` into user/reply turns over ``sessions`` with a long-tailed spread."""
    # An odd count leaves the last session's final message unanswered.
    turns_total = (messages + 1) // 2
    if turns_total < sessions:
        raise SystemExit(f"{messages} messages are too few for {sessions} sessions (at least 2 per session).")
    weights = [rng.paretovariate(1.5) for _ in range(sessions)]
    scale = (turns_total - sessions) / sum(weights)
    turns = [1 + int(weight * scale) for weight in weights]
    for index in rng.choices(range(sessions), k=turns_total - sum(turns)):
        turns[index] += 1
    shares = [model.share for model in MODELS]
    plans = []
    for count in turns:
        first = rng.choices(MODELS, weights=shares)[0]
        # One session in ten switches model part-way, as people do.
        models = (first, rng.choices(MODELS, weights=shares)[0]) if rng.random() < 0.1 else (first,)
        title = f"{rng.choice(TOPICS)} #{rng.randrange(1, 10_000)}"
        plans.append(SessionPlan(str(uuid.UUID(int=rng.getrandbits(128), version=4)), title, models, count))
    if messages % 2:
        plans[-1].unanswered = True
    return plans


def generate(
    rng: random.Random, plans: list[SessionPlan], *, days: int, end: datetime, max_chars: int
) -> tuple[list[tuple], list[tuple]]:
    """(message rows, session rows); message rows are sorted by time, as the app inserts them."""
    pool = build_text_pool(rng, max_chars)
    message_rows: list[tuple] = []
    session_rows: list[tuple] = []
    span = timedelta(days=days)
    for plan in plans:
        # Gaps between turns: seconds to minutes, now and then a return days later.
        offsets: list[float] = []
        clock = 0.0
        for _ in range(plan.turns):
            offsets.append(clock)
            clock += rng.uniform(30, 900) if rng.random() > 0.02 else rng.uniform(86_400, 3 * 86_400)
        duration = min(timedelta(seconds=clock + 60), span - timedelta(minutes=1))
        start = end - span + (span - duration) * rng.random()
        compress = min(1.0, duration.total_seconds() / (clock + 60))

        context = SYSTEM_PROMPT_TOKENS
        previous_prompt = 0
        totals = [0, 0, 0, 0, 0, 0, 0]  # messages, prompt, cached, completion, cost, unpriced, estimated
        last_at = start
        for turn, offset in enumerate(offsets):
            model = plan.models[0] if turn < plan.turns // 2 or len(plan.models) == 1 else plan.models[1]
            asked_at = start + timedelta(seconds=offset * compress)
            user_tokens = rng.randint(8, 200)
            user_text = pool[: user_tokens * 4]  # about four characters per token
            message_rows.append((plan.id, "user", user_text, asked_at.strftime(DATETIME_FORMAT)) + (None,) * 12 + (1,))
            totals[0] += 1
            last_at = asked_at
            if plan.unanswered and turn == plan.turns - 1:
                break
            prompt = context + user_tokens
            completion = rng.randint(30, 900)
            # Prompt caching: most turns reuse the previous prompt, in 128-token blocks.
            cached = (previous_prompt // 128) * 128 if turn and rng.random() < 0.7 else 0
            reasoning = completion // 3 if model.reasoning else 0
            estimated = rng.random() < 0.02
            complete = rng.random() > 0.01
            cost = None
            rates: tuple[str | None, str | None, str | None] = (None, None, None)
            if model.rates is not None:
                rates = model.rates
                per_token = [int(Decimal(rate) * PICODOLLARS_PER_MTOK_DOLLAR) for rate in model.rates]
                cost = (prompt - cached) * per_token[0] + cached * per_token[1] + completion * per_token[2]
            answered_at = asked_at + timedelta(seconds=rng.uniform(1, 20) * compress)
            message_rows.append(
                (
                    plan.id,
                    "assistant",
                    pool[: completion * 4],
                    answered_at.strftime(DATETIME_FORMAT),
                    model.name,
                    prompt,
                    cached,
                    completion,
                    reasoning,
                    cost,
                    model.pricing_model,
                    model.source,
                    *rates,
                    int(estimated),
                    int(complete),
                )
            )
            totals[0] += 1
            totals[1] += prompt
            totals[2] += cached
            totals[3] += completion
            totals[4] += cost or 0
            totals[5] += cost is None
            totals[6] += estimated
            last_at = answered_at
            previous_prompt = prompt
            context = prompt + completion
        session_rows.append(
            (
                plan.id,
                plan.title,
                plan.models[0].name,
                start.strftime(DATETIME_FORMAT),
                last_at.strftime(DATETIME_FORMAT),
                *totals,
            )
        )
    message_rows.sort(key=lambda row: row[3])
    return message_rows, session_rows


def write(path: Path, message_rows: list[tuple], session_rows: list[tuple]) -> None:
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        indexes = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('messages', 'chat_sessions')"
        ).fetchall()
        connection.execute("BEGIN")
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        connection.executemany(
            "INSERT INTO chat_sessions (id, title, model, created_at, updated_at, message_count, prompt_tokens,"
            " cached_tokens, completion_tokens, cost_picodollars, unpriced_replies, estimated_replies)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            session_rows,
        )
        connection.executemany(
            "INSERT INTO messages (session_id, role, content, created_at, model, prompt_tokens, cached_tokens,"
            " completion_tokens, reasoning_tokens, cost_picodollars, pricing_model, price_source, input_per_mtok,"
            " cached_input_per_mtok, output_per_mtok, usage_estimated, complete)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            message_rows,
        )
        for _, sql in indexes:
            connection.execute(sql)
        connection.execute("COMMIT")
    finally:
        connection.close()


def seed(
    path: Path,
    *,
    messages: int,
    sessions: int,
    days: int,
    seed: int = 42,
    max_chars: int = 400,
    end: datetime | None = None,
) -> None:
    """Create ``path`` with ``messages`` messages over ``sessions`` sessions in the ``days`` before ``end``."""
    if path.exists():
        raise SystemExit(f"{path} exists already; remove it or choose another file.")
    rng = random.Random(seed)
    end = end or datetime.now(tz=UTC).replace(tzinfo=None)
    plans = plan_sessions(rng, messages=messages, sessions=sessions)
    message_rows, session_rows = generate(rng, plans, days=days, end=end, max_chars=max_chars)
    write(path, message_rows, session_rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="the SQLite file to create")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=42, help="random seed, for the same data every time")
    parser.add_argument(
        "--max-chars",
        type=int,
        default=400,
        help="longest stored message text; token counts, not text, carry the cost (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    seed(
        args.database,
        messages=args.messages,
        sessions=args.sessions,
        days=args.days,
        seed=args.seed,
        max_chars=args.max_chars,
    )
    size_mb = args.database.stat().st_size / 1e6
    print(
        f"{args.database}: {args.messages:,} messages, {args.sessions:,} sessions over {args.days} days, "
        f"{size_mb:,.0f} MB in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
