"""docs/reliability.md and tests/reliability/ describe the same cases, one row per test."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.apptest_helpers import ROOT


def test_every_catalogue_test_has_exactly_one_row_and_every_row_a_test() -> None:
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/reliability"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    tests = [line.removeprefix("tests/reliability/") for line in collected.splitlines() if "::" in line]
    rows = re.findall(r"^\| \d+ \|.*\| `([^`]+::[^`]+)` \|", (ROOT / "docs" / "reliability.md").read_text(), re.M)
    assert sorted(rows) == sorted(tests)
    assert len(rows) == len(set(rows))
    assert len(rows) >= 40  # the issue asks for at least forty
