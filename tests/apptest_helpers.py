"""Running app.py and the pages under Streamlit's AppTest against the fake provider."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit as st
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from smallchat.config import Settings

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
ANALYTICS_PAGE = "pages/1_Cost_analytics.py"


def configure_app(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the app at the test's provider and database, through the environment as a user would."""
    monkeypatch.setenv("AI_API_KEY", settings.api_key)
    monkeypatch.setenv("AI_BASE_URL", settings.base_url)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("AI_MAX_RETRIES", str(settings.max_retries))
    monkeypatch.setenv("AI_TIMEOUT_SECONDS", str(settings.request_timeout_seconds))
    # Settings, store and client are cached per process: a test must not see another's.
    st.cache_resource.clear()
    st.cache_data.clear()


def run_app(path: Path = APP, *, session_id: str | None = None, page: str | None = None) -> AppTest:
    """Run the app; with ``page`` (a path like ``ANALYTICS_PAGE``), open that page first.

    A page runs under the app's entry point, as ``streamlit run app.py`` runs it: started on
    its own, its links back to ``app.py`` would have no app to lead to.
    """
    app = AppTest.from_file(str(path), default_timeout=30)
    if session_id is not None:
        app.query_params["session"] = session_id
    if page is not None:
        app.switch_page(page)
    return app.run()


class RecordingMediaStorage(MemoryMediaFileStorage):
    """AppTest's in-memory media store, also keeping each file by the URL the page hands out."""

    served: dict[str, bytes] = {}  # noqa: RUF012 -- shared on purpose: AppTest makes a store per run

    def get_url(self, file_id: str) -> str:
        url = super().get_url(file_id)
        self.served[url] = self.get_file(file_id).content
        return url


class RecordingMediaFileManager(MediaFileManager):
    """AppTest's media file manager, kept after the run: deferred downloads are made through it."""

    latest: MediaFileManager | None = None

    def __init__(self, storage: MemoryMediaFileStorage) -> None:
        super().__init__(storage)
        RecordingMediaFileManager.latest = self


def record_downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Bytes of every st.download_button file, by the button's URL (``button.proto.url``)."""
    RecordingMediaStorage.served = {}
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", RecordingMediaStorage)
    monkeypatch.setattr(app_test_module, "MediaFileManager", RecordingMediaFileManager)
    return RecordingMediaStorage.served


def downloaded(app: AppTest, key: str, downloads: dict[str, bytes]) -> bytes:
    """The file the download button ``key`` gives, as a click would; a deferred one is made now.

    ``downloads`` is what ``record_downloads`` returned before the app ran.
    """
    proto = app.download_button(key=key).proto
    if proto.HasField("deferred_file_id"):  # ``data`` was a callable: the browser asks for it on click
        assert RecordingMediaFileManager.latest is not None
        return downloads[RecordingMediaFileManager.latest.execute_deferred(proto.deferred_file_id)]
    return downloads[proto.url]


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def markdown_texts(app: AppTest) -> list[str]:
    return [element.value for element in app.markdown]


def shown(value: str) -> str:
    """The text a person reads in an element whose value went through ``escape_markdown``."""
    return re.sub(r"\\(.)", r"\1", value).replace("  \n", "\n")
