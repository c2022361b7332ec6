"""Running the real app in a real browser: a Streamlit server on a free port, Debian's Chromium.

Shared by the browser tests and ``scripts/take_screenshots.py``. Nothing here is downloaded:
Playwright drives the Chromium the system package manager installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smallchat.config import SETTING_NAMES

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
# Everything that would reach out to the internet stays off: CI has no internet.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
)


PLAYWRIGHT_MISSING = "Playwright for Python is not installed (pip install -r requirements-dev.txt)"


def find_chromium() -> str | None:
    """Debian's Chromium, if installed."""
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def browser_unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return PLAYWRIGHT_MISSING
    if find_chromium() is None:
        return "Chromium is not installed (Debian: apt-get install chromium; .ci/run does this)"
    return None


def launch_browser(playwright: Playwright) -> Browser:
    """Headless Debian Chromium with background networking off."""
    executable = find_chromium()
    if executable is None:
        raise RuntimeError(browser_unavailable_reason())
    return playwright.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_ARGS))


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningApp:
    """A ``streamlit run app.py`` process and where to find it."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    database_url: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def app_environment(*, settings: Mapping[str, str]) -> dict[str, str]:
    """The server's environment: ours, without any SmallChat setting except ``settings``."""
    env = {name: value for name, value in os.environ.items() if name not in SETTING_NAMES}
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def running_app(
    *,
    settings: Mapping[str, str],
    workdir: Path | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[RunningApp]:
    """Start the app on a free loopback port, wait until it is healthy, stop it afterwards.

    ``settings`` are SmallChat's environment variables (DATABASE_URL defaults to a temp file).
    The server runs in a scratch folder holding only the project's ``.streamlit/config.toml``,
    so a developer's ``.env`` or ``secrets.toml`` can never leak into a test.
    """
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smallchat-e2e-")))
        (workdir / ".streamlit").mkdir(exist_ok=True)
        shutil.copy(ROOT / ".streamlit" / "config.toml", workdir / ".streamlit" / "config.toml")
        settings = {"DATABASE_URL": f"sqlite:///{workdir / 'chat.db'}", **settings}
        log_path = workdir / "streamlit.log"
        # The port is free when we ask; another process may take it before Streamlit binds it,
        # so a server that dies at start is retried on a new port.
        last_error = ""
        for _attempt in range(3):
            app = _start(settings=settings, workdir=workdir, log_path=log_path, extra_args=extra_args)
            try:
                _wait_until_healthy(app)
            except _ServerExited as exited:
                last_error = str(exited)
                continue
            except BaseException:
                _stop(app.process)
                raise
            try:
                yield app
            finally:
                _stop(app.process)
            return
        raise RuntimeError(f"streamlit did not start:\n{last_error}")


class _ServerExited(Exception):
    pass


def _start(*, settings: Mapping[str, str], workdir: Path, log_path: Path, extra_args: tuple[str, ...]) -> RunningApp:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        *extra_args,
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=app_environment(settings=settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown stops every child
        )
    return RunningApp(
        url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, database_url=settings["DATABASE_URL"]
    )


def _wait_until_healthy(app: RunningApp) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise _ServerExited(app.log())
        try:
            with urllib.request.urlopen(f"{app.url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"streamlit was not healthy after {STARTUP_TIMEOUT_SECONDS:.0f}s:\n{app.log()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left; never waits unbounded."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
