"""Run every benchmark in one go, print one table of the figures, and write them as JSON.

    python -m bench.run_all            # the full sizes (several minutes; a quiet machine)
    python -m bench.run_all --smoke    # small sizes and few runs, as CI does

Each suite runs in its own process, one after another, so none measures another's load.
The table lists every figure as a ratio or a measurement beside its target; the JSON goes to
bench/results/all.json (bench/results/all-smoke.json for a smoke run), with the machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import RESULTS_DIR, Figure, machine

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> None:
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, timeout=3600)


def chat_figures(smoke: bool) -> list[Figure]:
    run("-m", "bench.bench_chat", *(["--smoke"] if smoke else []))
    suite = "chat-smoke" if smoke else "chat"
    return [Figure(**figure) for figure in json.loads((RESULTS_DIR / f"{suite}.json").read_text())["figures"]]


def analytics_figures(smoke: bool, folder: Path) -> list[Figure]:
    database = folder / "history.db"
    size = ["--messages", "20000", "--sessions", "200", "--days", "30"] if smoke else []
    run("bench/seed_database.py", str(database), *size)
    output = folder / "analytics.json"
    run("bench/bench_analytics.py", str(database), "--runs", "3" if smoke else "15", "--output", str(output))
    result = json.loads(output.read_text())
    messages = "20,000" if smoke else "1,000,000"
    first_visit = result["first_visit"]
    return [
        Figure(
            f"analytics aggregation, {messages} messages",
            first_visit["ratio"],
            "x",
            "<= 1.3",
            first_visit["ratio"] <= 1.3,
            "vs one hand-written sqlite3 GROUP BY (first visit, no filter)",
        ),
        Figure("analytics peak memory", result["peak_rss_mb"], "MB", "< 300 MB", result["peak_rss_mb"] < 300, ""),
    ]


def api_figures(smoke: bool) -> list[Figure]:
    before = set(RESULTS_DIR.glob("api_concurrency-*.json"))
    sizes = ["--concurrency", "10", "--rounds", "1", "--singles", "1"] if smoke else []
    run("bench/bench_api_concurrency.py", *sizes)
    [path] = set(RESULTS_DIR.glob("api_concurrency-*.json")) - before
    report = json.loads(path.read_text())
    concurrency = report.get("concurrency", 10 if smoke else 50)
    return [
        Figure(
            f"API: {concurrency} concurrent chats vs one ({mode})",
            figures["ratio"],
            "x",
            "<= 2.0",
            figures["ratio"] <= 2.0,
            "provider answers after 200 ms",
        )
        for mode, figures in report["results"].items()
    ]


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description="Run every SmallChat benchmark.")
    parser.add_argument("--smoke", action="store_true", help="small sizes and few runs (for CI)")
    args = parser.parse_args(argv)
    RESULTS_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as temp:
        figures = [
            *chat_figures(args.smoke),
            *analytics_figures(args.smoke, Path(temp)),
            *api_figures(args.smoke),
        ]
    width = max(len(figure.name) for figure in figures)
    print("\nAll benchmarks" + (" (smoke sizes: the figures are not the targets' measure)" if args.smoke else ""))
    for figure in figures:
        print(
            f"  {'ok ' if figure.met else 'MISS'} {figure.name.ljust(width)}  {figure.value:9.3f} {figure.unit:<3}"
            f" target {figure.target}"
        )
    output = RESULTS_DIR / ("all-smoke.json" if args.smoke else "all.json")
    output.write_text(
        json.dumps({"machine": machine(), "smoke": args.smoke, "figures": [vars(f) for f in figures]}, indent=2)
    )
    print(f"written to {output.relative_to(ROOT)}")
    return figures


if __name__ == "__main__":
    main()
