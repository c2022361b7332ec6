"""The benchmark scripts run end to end on a tiny database (their speed is measured in bench/, not here)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from smallchat.analytics import UsageFilter, usage_report
from smallchat.db import create_db_engine
from tests.apptest_helpers import ROOT


def run_script(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_seeded_history_has_the_asked_size_and_consistent_running_totals(tmp_path: Path) -> None:
    database = tmp_path / "small.db"
    run_script("bench/seed_database.py", str(database), "--messages", "2001", "--sessions", "40", "--days", "14")
    engine = create_db_engine(f"sqlite:///{database}")
    from_running_totals = usage_report(engine)
    from_messages = usage_report(engine, UsageFilter(first_day=date(2000, 1, 1)))
    engine.dispose()
    assert (from_running_totals.totals.messages, from_running_totals.totals.sessions) == (2001, 40)
    assert from_running_totals.totals.unpriced_replies > 0  # the seed includes a model without a price
    assert from_running_totals.totals == from_messages.totals
    assert from_running_totals.sessions.equals(from_messages.sessions)


def test_benchmark_reports_ratio_and_memory_for_a_small_database(tmp_path: Path) -> None:
    database = tmp_path / "small.db"
    output = tmp_path / "result.json"
    run_script("bench/seed_database.py", str(database), "--messages", "2000", "--sessions", "40", "--days", "14")
    printed = run_script("bench/bench_analytics.py", str(database), "--runs", "1", "--output", str(output))
    result = json.loads(output.read_text())
    assert (result["messages"], result["sessions"]) == (2000, 40)
    assert result["first_visit"]["ratio"] > 0
    assert result["model_filter"]["ratio"] > 0
    assert result["peak_rss_mb"] > 0
    assert "ratio" in printed and str(output) in printed


def test_every_benchmark_runs_from_one_command_at_smoke_size() -> None:
    run_script("-m", "bench.run_all", "--smoke")
    report = json.loads((ROOT / "bench" / "results" / "all-smoke.json").read_text())
    names = [figure["name"] for figure in report["figures"]]
    # The figures each issue asks for, in one table (their speed is measured at full size, not here).
    for expected in (
        "first token",
        "page rerun",
        "start-up",
        "write one exchange",
        "list 1,000 sessions",
        "analytics aggregation",
        "analytics peak memory",
        "API: 10 concurrent chats",
    ):
        assert any(name.startswith(expected) for name in names), expected
    assert all(figure["value"] > 0 for figure in report["figures"])
