"""How long the cost analytics page takes to aggregate, against one hand-written sqlite3 GROUP BY.

    python bench/seed_database.py /tmp/bench/chat.db     # once: 1,000,000 messages
    python bench/bench_analytics.py /tmp/bench/chat.db

Each run times, on the same file and interleaved so that other load on the machine hits
both alike:

* the page: what the analytics page computes on a first visit with an empty cache
  (``data_version``, ``usage_report`` with no filter, the what-if prices), through
  SQLAlchemy and pandas, up to the DataFrames it renders;
* the baseline: the same GROUP BY written by hand and run with plain ``sqlite3``, rows
  fetched into Python and nothing more.

It prints the median times, their ratio and the peak resident memory of this process, and
writes them as JSON to ``bench/results/``. A filtered page (a model filter, which needs
per-session sums from the messages) is timed the same way against its own hand-written query,
and the simplest hand-written per-session total is timed for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smallchat.analytics import UsageFilter, data_version, usage_report, what_if_costs
from smallchat.db import create_db_engine

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# The what-if models the page offers first.
WHAT_IF_MODELS = ("gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash")
FILTER_MODEL = "gpt-5-mini"

# The page's GROUP BY, written by hand: per UTC day, role, model, estimated flag and rates.
HAND_WRITTEN_ROLLUP = """
SELECT date(created_at), role, model, usage_estimated, input_per_mtok, cached_input_per_mtok,
       count(*), count(cost_picodollars),
       coalesce(sum(prompt_tokens), 0), coalesce(sum(cached_tokens), 0),
       coalesce(sum(completion_tokens), 0), coalesce(sum(cost_picodollars), 0)
FROM messages
GROUP BY date(created_at), role, model, usage_estimated, input_per_mtok, cached_input_per_mtok
"""
# The same with a model filter, split by session as well.
HAND_WRITTEN_FILTERED = """
SELECT date(created_at), role, model, usage_estimated, input_per_mtok, cached_input_per_mtok, session_id,
       count(*), count(cost_picodollars),
       coalesce(sum(prompt_tokens), 0), coalesce(sum(cached_tokens), 0),
       coalesce(sum(completion_tokens), 0), coalesce(sum(cost_picodollars), 0)
FROM messages
WHERE model IN (?)
GROUP BY date(created_at), role, model, usage_estimated, input_per_mtok, cached_input_per_mtok, session_id
"""
# What one would write first to see the cost of each session.
HAND_WRITTEN_PER_SESSION = """
SELECT session_id, count(*), sum(prompt_tokens), sum(cached_tokens), sum(completion_tokens), sum(cost_picodollars)
FROM messages
GROUP BY session_id
"""


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def timed(work: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one call of ``work``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(page: Callable[[], Any], baseline: Callable[[], Any], runs: int) -> dict[str, float]:
    """Interleaved runs (after one warm-up of each): medians, minimums and their ratios.

    The median is what a run typically takes on this machine, other load included; the
    minimum is the run least disturbed by that load, so closest to the code's own cost.
    """
    page()
    baseline()
    page_times: list[tuple[float, float]] = []
    baseline_times: list[tuple[float, float]] = []
    for _ in range(runs):
        baseline_times.append(timed(baseline))
        page_times.append(timed(page))
    page_wall = statistics.median(t[0] for t in page_times)
    base_wall = statistics.median(t[0] for t in baseline_times)
    page_cpu = statistics.median(t[1] for t in page_times)
    base_cpu = statistics.median(t[1] for t in baseline_times)
    page_best = min(t[0] for t in page_times)
    base_best = min(t[0] for t in baseline_times)
    return {
        "page_seconds": round(page_wall, 4),
        "baseline_seconds": round(base_wall, 4),
        "ratio": round(page_wall / base_wall, 3),
        "page_best_seconds": round(page_best, 4),
        "baseline_best_seconds": round(base_best, 4),
        "best_ratio": round(page_best / base_best, 3),
        "page_cpu_seconds": round(page_cpu, 4),
        "baseline_cpu_seconds": round(base_cpu, 4),
        "cpu_ratio": round(page_cpu / base_cpu, 3),
    }


def check_same_numbers(report: Any, baseline_rows: list[tuple]) -> None:
    """The two sides must compute the same thing, or their ratio means nothing."""
    messages = sum(row[6] for row in baseline_rows)
    cost_picodollars = sum(row[11] for row in baseline_rows)
    page_cost_picodollars = int(report.totals.cost.scaleb(12))
    if (messages, cost_picodollars) != (report.totals.messages, page_cost_picodollars):
        raise SystemExit(
            f"The page and the hand-written query disagree: {report.totals.messages} messages and "
            f"{page_cost_picodollars} picodollars against {messages} and {cost_picodollars}."
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="a SQLite file made by bench/seed_database.py")
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each side (default: %(default)s)")
    parser.add_argument("--output", type=Path, help="where to write the JSON (default: bench/results/<time>.json)")
    args = parser.parse_args(argv)
    if not args.database.is_file():
        raise SystemExit(f"{args.database} does not exist: make it with bench/seed_database.py first.")

    engine = create_db_engine(f"sqlite:///{args.database}")
    raw = sqlite3.connect(args.database)

    def page_first_visit() -> None:
        data_version(engine)
        report = usage_report(engine, UsageFilter())
        what_if_costs(report.models, WHAT_IF_MODELS)

    def page_with_model_filter() -> None:
        data_version(engine)
        usage_report(engine, UsageFilter(models=(FILTER_MODEL,)))

    # Other work on the machine slows both sides, unevenly: say how busy it was.
    load_before = os.getloadavg()[0]
    version = data_version(engine)
    with engine.connect() as connection:
        messages = connection.exec_driver_sql("SELECT count(*) FROM messages").scalar()
    check_same_numbers(usage_report(engine, UsageFilter()), raw.execute(HAND_WRITTEN_ROLLUP).fetchall())
    default = compare(page_first_visit, lambda: raw.execute(HAND_WRITTEN_ROLLUP).fetchall(), args.runs)
    filtered = compare(
        page_with_model_filter, lambda: raw.execute(HAND_WRITTEN_FILTERED, (FILTER_MODEL,)).fetchall(), args.runs
    )
    per_session_seconds = statistics.median(
        timed(lambda: raw.execute(HAND_WRITTEN_PER_SESSION).fetchall())[0] for _ in range(3)
    )
    results = {
        "database": str(args.database),
        "messages": messages,
        "sessions": version.sessions,
        "runs": args.runs,
        "first_visit": default,
        "model_filter": filtered,
        "hand_written_per_session_seconds": round(per_session_seconds, 4),
        "first_visit_vs_per_session_ratio": round(default["page_seconds"] / per_session_seconds, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "when": datetime.now(tz=UTC).isoformat(timespec="seconds"),
    }
    raw.close()
    engine.dispose()

    output = args.output or RESULTS_DIR / f"analytics-{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"{messages:,} messages, {version.sessions:,} sessions, {args.runs} runs each.\n"
        f"First visit: page {default['page_seconds']:.3f} s, hand-written GROUP BY {default['baseline_seconds']:.3f} s "
        f"(medians): ratio {default['ratio']:.2f}; best runs {default['best_ratio']:.2f}; "
        f"CPU time {default['cpu_ratio']:.2f}.\n"
        f"With a model filter: ratio {filtered['ratio']:.2f}; best runs {filtered['best_ratio']:.2f}; "
        f"CPU time {filtered['cpu_ratio']:.2f}.\n"
        f"Peak RSS {results['peak_rss_mb']:.0f} MB. Load average {load_before:.1f} on {os.cpu_count()} CPUs. "
        f"Written to {output}"
    )
    return results


if __name__ == "__main__":
    main()
