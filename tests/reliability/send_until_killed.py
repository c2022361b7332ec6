"""Sends one message through the real use case and reports each streamed part: the test kills it mid-reply.

Run as ``python -m tests.reliability.send_until_killed DATABASE_URL BASE_URL SESSION_ID TEXT``.
It prints ``PART`` (and flushes) for every part of the reply, so the parent knows when to kill.
"""

from __future__ import annotations

import sys

from smallchat.chat import start_reply
from smallchat.config import Settings
from smallchat.db import create_db_engine, upgrade_database
from smallchat.llm import make_client
from smallchat.repository import ChatStore


def main() -> None:
    database_url, base_url, session_id, text = sys.argv[1:5]
    settings = Settings(api_key="sk-child-0123456789", base_url=base_url, database_url=database_url, max_retries=0)
    engine = create_db_engine(database_url)
    upgrade_database(engine)
    store = ChatStore(engine)
    pending = start_reply(store, make_client(settings), settings, session_id=session_id, text=text)
    print("SAVED", flush=True)  # the user's message is committed: the stream starts now
    for _ in pending:
        print("PART", flush=True)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
