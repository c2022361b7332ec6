"""Shared timing and reporting for the benchmarks: medians of several runs, ratios, a table, JSON."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Figure:
    """One reported figure: a ratio or a measurement, with its target."""

    name: str
    value: float
    unit: str
    target: str
    met: bool
    detail: str = ""


def median_seconds(action: Callable[[], object], *, runs: int, warmup: int = 1) -> float:
    """Median wall time of ``action`` over ``runs`` runs, after ``warmup`` unmeasured ones."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def paired_medians(ours: Callable[[], float], baseline: Callable[[], float], *, runs: int) -> tuple[float, float]:
    """Medians of two measurements taken alternately, so both see the same machine load.

    Each callable runs once and returns the seconds it measured itself.
    """
    ours_samples, baseline_samples = [], []
    for _ in range(runs):
        ours_samples.append(ours())
        baseline_samples.append(baseline())
    return statistics.median(ours_samples), statistics.median(baseline_samples)


def ratio_figure(
    name: str,
    ours: Callable[[], float],
    baseline: Callable[[], float],
    *,
    runs: int,
    at_most: float,
    ms_digits: int = 1,
    note: str = "",
) -> Figure:
    """``ours`` over ``baseline`` (paired medians) as a figure whose target is ``<= at_most``."""
    ours_median, baseline_median = paired_medians(ours, baseline, runs=runs)
    ratio = ours_median / baseline_median
    detail = f"{ours_median * 1000:.{ms_digits}f} ms vs {baseline_median * 1000:.{ms_digits}f} ms"
    return Figure(name, ratio, "x", f"<= {at_most:g}", ratio <= at_most, f"{detail} ({note})" if note else detail)


def machine() -> dict[str, str]:
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": str(os.cpu_count()),
    }


def report(suite: str, figures: list[Figure]) -> Path:
    """Print the figures as a table and write them, with the machine, to bench/results/<suite>.json."""
    width = max(len(figure.name) for figure in figures)
    print(f"\n{suite}")
    for figure in figures:
        mark = "ok " if figure.met else "MISS"
        value = f"{figure.value:.3f} {figure.unit}".ljust(16)
        print(f"  {mark} {figure.name.ljust(width)}  {value} target {figure.target}  {figure.detail}")
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{suite}.json"
    path.write_text(
        json.dumps(
            {
                "suite": suite,
                "measured_at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "figures": [asdict(figure) for figure in figures],
            },
            indent=2,
        )
    )
    return path
