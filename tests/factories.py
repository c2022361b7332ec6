"""Stored chats in one line each: sessions, messages and priced replies, at a time the test sets."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from smallchat.pricing import Tariff
from smallchat.repository import ChatStore, MessageRecord, NewReply
from smallchat.usage import TokenUsage

# Rates the tests price by hand (USD per 1M tokens: input, cached input, output).
TARIFFS = {
    "gpt-5-mini": Tariff("gpt-5-mini", Decimal("0.25"), Decimal("0.025"), Decimal("2.00"), "test rates"),
    "cheap-model": Tariff("cheap-model", Decimal("0.01"), Decimal("0.01"), Decimal("0.05"), "test rates"),
}


class Clock:
    """The time the store writes (stands in for ``smallchat.repository.utc_now``)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: str) -> None:
        """Set the time to ``when``, an ISO time in UTC such as ``"2026-11-03 10:00"``."""
        self.now = datetime.fromisoformat(when).replace(tzinfo=UTC)


def add_reply(
    store: ChatStore,
    session_id: str,
    *,
    cost: str | None,
    model: str = "gpt-5-mini",
    prompt: int = 0,
    cached: int = 0,
    completion: int = 0,
    estimated: bool = False,
    complete: bool = True,
    forecast: str | None = None,
) -> MessageRecord:
    """A reply with the given usage, hand-computed ``cost`` (None: no known price) and ``forecast``."""
    return store.add_reply(
        session_id,
        reply=NewReply(
            content=f"A reply from {model}",
            model=model,
            usage=TokenUsage(prompt=prompt, cached=cached, completion=completion),
            usage_estimated=estimated,
            complete=complete,
            cost=None if cost is None else Decimal(cost),
            tariff=None if cost is None else TARIFFS[model],
            forecast_cost=None if forecast is None else Decimal(forecast),
        ),
    )


def add_question(store: ChatStore, session_id: str, text: str = "A question") -> MessageRecord:
    """The user's message (the first one of a session also becomes its title)."""
    return store.add_user_message(session_id, content=text)


def new_chat(store: ChatStore, title: str) -> str:
    """A session whose first message is ``title``, so that is its title; returns its id."""
    session_id = store.create_session(model="gpt-5-mini").id
    add_question(store, session_id, title)
    return session_id


def seed_three_chats(store: ChatStore, clock: Clock) -> dict[str, str]:
    """Three chats over three UTC days; returns their ids by title.

    Costs, worked out by hand from the rates in TARIFFS (per 1M tokens):

    * "Trip to Lisbon", gpt-5-mini: on Nov 2, 86 uncached x 0.25 + 1920 cached x 0.025
      + 300 out x 2.00 = 669.5 -> $0.0006695; on Nov 4, 3000 x 0.25 + 100 x 2.00 = 950
      -> $0.00095. The session: $0.0016195.
    * "Tiny question", cheap-model, Nov 3: 9 x 0.01 + 10 x 0.05 = 0.59 -> $0.00000059.
    * "Local model", Nov 3: a local-llama reply with no known price (50 in, 20 out), then an
      estimated gpt-5-mini reply: 400 x 0.25 + 50 x 2.00 = 200 -> $0.0002.
    """
    clock.set("2026-11-02 09:00")
    trip = new_chat(store, "Trip to Lisbon")
    clock.set("2026-11-02 09:01")
    add_reply(store, trip, prompt=2006, cached=1920, completion=300, cost="0.0006695")
    clock.set("2026-11-03 10:00")
    tiny = new_chat(store, "Tiny question")
    clock.set("2026-11-03 10:01")
    add_reply(store, tiny, model="cheap-model", prompt=9, completion=10, cost="0.00000059")
    clock.set("2026-11-03 11:00")
    local = new_chat(store, "Local model")
    clock.set("2026-11-03 11:01")
    add_reply(store, local, model="local-llama", prompt=50, completion=20, cost=None)
    clock.set("2026-11-03 11:02")
    add_question(store, local, "And now?")
    clock.set("2026-11-03 11:03")
    add_reply(store, local, prompt=400, completion=50, cost="0.0002", estimated=True)
    clock.set("2026-11-04 08:00")
    add_question(store, trip, "And the trains?")
    clock.set("2026-11-04 08:01")
    add_reply(store, trip, prompt=3000, completion=100, cost="0.00095")
    return {"Trip to Lisbon": trip, "Tiny question": tiny, "Local model": local}
