"""Runs the chat page's start-up (AppTest) as an unprivileged user and prints what it showed, as JSON.

Run as ``python -m tests.reliability.open_app_as_nobody DATABASE_URL``. Root ignores file
permissions, so as root this first runs the page once on a scratch database (loading every
module while the interpreter's own files are still readable), then drops to nobody (65534)
before opening DATABASE_URL. As any other user it opens DATABASE_URL directly.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import APP

NOBODY = 65534


def run_page(database_url: str) -> AppTest:
    os.environ["DATABASE_URL"] = database_url
    st.cache_resource.clear()  # a new database: a new store, as in a fresh process
    return AppTest.from_file(str(APP), default_timeout=20).run()


def main() -> None:
    target = sys.argv[1]
    dropped = False
    if os.geteuid() == 0:
        with tempfile.TemporaryDirectory() as scratch:
            run_page(f"sqlite:///{scratch}/warm-up.db")
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        dropped = True
    app = run_page(target)
    print(
        json.dumps(
            {
                "uid": os.geteuid(),
                "dropped": dropped,
                "errors": [element.value for element in app.error],
                "exception": [element.value for element in app.exception],
                "chat_input": len(app.chat_input),
            }
        )
    )


if __name__ == "__main__":
    main()
