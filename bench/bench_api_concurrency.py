"""How the REST API holds up under concurrent chats: wall time of 50 at once against one alone.

The provider is the test suite's fake, taking 200 ms before each reply, in its own process;
the API runs under uvicorn in another, as it would in production, on an SQLite database in a
temp folder; the load comes from this process over kept-alive connections, one per chat.
Everything stays on 127.0.0.1. For each mode (a JSON reply, a streamed reply), rounds of a
few single requests then 50 concurrent ones (each on its own session); the figure is
median(50 at once) / median(one alone). Target: at most 2.0.

    .venv/bin/python bench/bench_api_concurrency.py [--concurrency 50] [--rounds 7] [--workers 1]

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

import h11
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


class KeepAliveConnection:
    """One keep-alive HTTP/1.1 connection to the API, spoken with h11 over asyncio streams.

    The load generator shares the machine's two cores with the API and the provider, so it
    must cost little: httpx's async client spent 5-10 ms of CPU per request here, as much as
    the API itself, and the figure then measured the client. h11 (uvicorn's own HTTP parser)
    does the framing; nothing else runs per request.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._http = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, port: int) -> KeepAliveConnection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, method: str, target: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        """Send one request; the status and the whole response body (an event stream read to its end)."""
        payload = b"" if body is None else json.dumps(body).encode()
        headers = [("Host", "127.0.0.1"), ("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        self._writer.write(self._http.send(h11.Request(method=method, target=target, headers=headers)))
        self._writer.write(self._http.send(h11.Data(data=payload)))
        self._writer.write(self._http.send(h11.EndOfMessage()))
        await self._writer.drain()
        status, parts = 0, []
        while True:
            event = self._http.next_event()
            if event is h11.NEED_DATA:
                self._http.receive_data(await self._reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._http.start_next_cycle()
                return status, b"".join(parts)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the API closed the connection mid-response")

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


async def one_chat(connection: KeepAliveConnection, session_id: str, message: str, *, stream: bool) -> None:
    status, body = await connection.request(
        "POST", f"/sessions/{session_id}/chat", {"message": message, "stream": stream}
    )
    if status != 200:
        raise RuntimeError(f"chat answered {status}: {body[:300]!r}")
    if stream:
        assert b"event: usage" in body, body[-300:]
    else:
        assert json.loads(body)["reply"]["cost"]["usd"] is not None


async def timed(chats: list[tuple[KeepAliveConnection, str]], label: str, *, stream: bool) -> float:
    started = time.perf_counter()
    await asyncio.gather(
        *(one_chat(connection, sid, f"{label} {n}", stream=stream) for n, (connection, sid) in enumerate(chats))
    )
    return time.perf_counter() - started


Chats = list[tuple[KeepAliveConnection, str]]


async def measure_mode(
    chats: Chats, api_cpu: Callable[[], float], *, mode: str, stream: bool, rounds: int, singles: int
) -> dict[str, Any]:
    """Single chats and bursts of all ``chats`` at once, taking turns.

    Taking turns, a machine that speeds up or slows down during the run (a shared one does)
    weighs on both sides alike.
    """
    await timed(chats[:1], f"warm-up {mode}", stream=stream)
    await timed(chats, f"warm-up {mode}", stream=stream)
    cpu = {"single": [0.0, 0.0], "burst": [0.0, 0.0]}  # API and client CPU seconds

    async def measured(kind: str, group: Chats, label: str) -> float:
        api_before, client_before = api_cpu(), time.process_time()
        seconds = await timed(group, label, stream=stream)
        cpu[kind][0] += api_cpu() - api_before
        cpu[kind][1] += time.process_time() - client_before
        return seconds

    single: list[float] = []
    burst: list[float] = []
    for n in range(rounds):
        for k in range(singles):
            single.append(await measured("single", chats[:1], f"single {mode} {n}.{k}"))
        burst.append(await measured("burst", chats, f"burst {mode} {n}"))
    bursts_chats = rounds * len(chats)
    return {
        "single_seconds": single,
        "concurrent_seconds": burst,
        "single_median": statistics.median(single),
        "concurrent_median": statistics.median(burst),
        "ratio": statistics.median(burst) / statistics.median(single),
        # CPU the API spent per chat: with one worker, N chats at once cannot finish
        # sooner than N times this (plus one provider wait), however they are scheduled.
        "api_cpu_ms_per_single_request": cpu["single"][0] / len(single) * 1000,
        "api_cpu_ms_per_concurrent_request": cpu["burst"][0] / bursts_chats * 1000,
        # The load generator's own share of the two cores, for the record.
        "client_cpu_ms_per_single_request": cpu["single"][1] / len(single) * 1000,
        "client_cpu_ms_per_concurrent_request": cpu["burst"][1] / bursts_chats * 1000,
    }


async def measure(
    api_port: int, api_cpu: Callable[[], float], *, concurrency: int, rounds: int, singles: int
) -> dict[str, Any]:
    # One connection per concurrent chat, opened beforehand, as long-lived clients hold them.
    connections = [await KeepAliveConnection.open(api_port) for _ in range(concurrency)]
    chats = []
    for connection in connections:
        status, body = await connection.request("POST", "/sessions")
        assert status == 201, body
        chats.append((connection, json.loads(body)["id"]))
    results = {
        mode: await measure_mode(chats, api_cpu, mode=mode, stream=stream, rounds=rounds, singles=singles)
        for mode, stream in (("json", False), ("stream", True))
    }
    for connection in connections:
        await connection.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=7, help="rounds (singles, then a burst) per mode")
    parser.add_argument("--singles", type=int, default=3, help="single requests before each round's burst")
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
        results = asyncio.run(
            measure(
                api_port,
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
    print(f"{'':<26}{'API CPU ms/chat':>20}{'client CPU ms/chat':>22}")
    print(f"{'mode':<8}{'one (ms)':>9}{'all (ms)':>9}{'ratio':>7}{'one':>10}{'at once':>10}{'one':>11}{'at once':>11}")
    for mode, figures in results.items():
        print(
            f"{mode:<8}{figures['single_median'] * 1000:>9.0f}{figures['concurrent_median'] * 1000:>9.0f}"
            f"{figures['ratio']:>7.2f}{figures['api_cpu_ms_per_single_request']:>10.1f}"
            f"{figures['api_cpu_ms_per_concurrent_request']:>10.1f}"
            f"{figures['client_cpu_ms_per_single_request']:>11.1f}{figures['client_cpu_ms_per_concurrent_request']:>11.1f}"
        )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"api_concurrency-{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
