"""How the REST API holds up under concurrent chats: wall time of 50 at once against one alone.

The provider is the test suite's fake, taking 200 ms before each reply, in its own process;
the API runs under uvicorn in another, as it would in production, on an SQLite database in a
temp folder. Everything stays on 127.0.0.1. For each mode (a JSON reply, a streamed reply):
a few single requests, then a few rounds of 50 concurrent ones (each on its own session);
the figure is median(50 at once) / median(one alone). Target: at most 2.0.

    /work/venv/bin/python bench/bench_api_concurrency.py [--concurrency 50] [--rounds 5]

Prints a table and writes JSON to bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PROVIDER_DELAY_SECONDS = 0.2
TARGET_RATIO = 2.0
START_TIMEOUT_SECONDS = 30


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children (uvicorn's workers), from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {START_TIMEOUT_SECONDS} s")


@contextmanager
def process(args: list[str], *, env: dict[str, str], cwd: Path, ready_url: str):
    proc = subprocess.Popen(args, env=env, cwd=cwd)
    try:
        wait_until_up(ready_url)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def one_chat(client: httpx.AsyncClient, session_id: str, message: str, *, stream: bool) -> None:
    url = f"/sessions/{session_id}/chat"
    body = {"message": message, "stream": stream}
    if not stream:
        response = await client.post(url, json=body)
        response.raise_for_status()
        assert response.json()["reply"]["cost"]["usd"] is not None
        return
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        text = (await response.aread()).decode()
    assert "event: usage" in text, text[-300:]


async def timed(client: httpx.AsyncClient, session_ids: list[str], label: str, *, stream: bool) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(one_chat(client, sid, f"{label} {n}", stream=stream) for n, sid in enumerate(session_ids)))
    return time.perf_counter() - started


async def measure(
    base_url: str, api_cpu: Callable[[], float], *, concurrency: int, rounds: int, singles: int
) -> dict[str, Any]:
    # Idle connections are dropped after 2 s, before uvicorn's own 5 s keep-alive timeout: with
    # both at 5 s, a request sent on a connection the server is closing fails with ReadError.
    limits = httpx.Limits(
        max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2, keepalive_expiry=2.0
    )
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        session_ids = [(await client.post("/sessions")).json()["id"] for _ in range(concurrency)]
        for mode, stream in (("json", False), ("stream", True)):
            await timed(client, session_ids[:1], f"warm-up {mode}", stream=stream)
            cpu_start = api_cpu()
            single = [await timed(client, session_ids[:1], f"single {mode} {n}", stream=stream) for n in range(singles)]
            cpu_singles_done = api_cpu()
            burst = [await timed(client, session_ids, f"burst {mode} {n}", stream=stream) for n in range(rounds)]
            cpu_bursts_done = api_cpu()
            results[mode] = {
                "single_seconds": single,
                "concurrent_seconds": burst,
                "single_median": statistics.median(single),
                "concurrent_median": statistics.median(burst),
                "ratio": statistics.median(burst) / statistics.median(single),
                # CPU the API spent per chat: with one worker, N chats at once cannot finish
                # sooner than N times this (plus one provider wait), however they are scheduled.
                "api_cpu_ms_per_single_request": (cpu_singles_done - cpu_start) / singles * 1000,
                "api_cpu_ms_per_concurrent_request": (cpu_bursts_done - cpu_singles_done)
                / (rounds * concurrency)
                * 1000,
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of concurrent requests per mode")
    parser.add_argument("--singles", type=int, default=5, help="single requests per mode")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    if not (1 <= args.concurrency <= 200 and 1 <= args.rounds <= 20 and 1 <= args.singles <= 20 and args.workers >= 1):
        parser.error("keep it bounded: concurrency 1-200, rounds and singles 1-20")

    load_before = os.getloadavg()
    provider_port, api_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "AI_BASE_URL": f"http://127.0.0.1:{provider_port}/v1",
            "AI_API_KEY": "bench-not-a-real-key",
            "AI_MAX_RETRIES": "0",
            "DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.db'}",
        }
        env.pop("API_TOKEN", None)
        python = sys.executable
        provider_options = ["--chunk-delay", "0", "--delay", str(PROVIDER_DELAY_SECONDS)]
        uvicorn_options = ["--host", "127.0.0.1", "--log-level", "warning", "--workers", str(args.workers)]
        stack.enter_context(
            process(
                [*(python, "-m", "tests.fake_provider", "--port", str(provider_port)), *provider_options],
                env=env,
                cwd=ROOT,
                ready_url=f"http://127.0.0.1:{provider_port}/v1/models",
            )
        )
        api = stack.enter_context(
            process(
                [*(python, "-m", "uvicorn", "smallchat.api:app", "--port", str(api_port)), *uvicorn_options],
                env=env,
                cwd=Path(folder),  # no .env from the project folder
                ready_url=f"http://127.0.0.1:{api_port}/health",
            )
        )
        base_url = f"http://127.0.0.1:{api_port}"
        results = asyncio.run(
            measure(
                base_url,
                lambda: process_tree_cpu_seconds(api.pid),
                concurrency=args.concurrency,
                rounds=args.rounds,
                singles=args.singles,
            )
        )

    report = {
        "benchmark": "api_concurrency",
        "when": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "provider_delay_seconds": PROVIDER_DELAY_SECONDS,
        "concurrency": args.concurrency,
        "uvicorn_workers": args.workers,
        "rounds": args.rounds,
        "singles": args.singles,
        "target_ratio": TARGET_RATIO,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "results": results,
    }
    print(
        f"{args.concurrency} concurrent chats vs one, provider taking {PROVIDER_DELAY_SECONDS * 1000:.0f} ms, "
        f"{args.workers} uvicorn worker(s); "
        f"load average {load_before[0]:.1f} on {os.cpu_count()} CPUs:"
    )
    print(f"{'mode':<8}{'one (ms)':>10}{'all (ms)':>10}{'ratio':>8}{'API CPU ms/chat, one':>22}{'at once':>9}")
    for mode, figures in results.items():
        print(
            f"{mode:<8}{figures['single_median'] * 1000:>10.0f}{figures['concurrent_median'] * 1000:>10.0f}"
            f"{figures['ratio']:>8.2f}{figures['api_cpu_ms_per_single_request']:>22.1f}"
            f"{figures['api_cpu_ms_per_concurrent_request']:>9.1f}"
        )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"api_concurrency-{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
