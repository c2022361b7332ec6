"""The README is the front door: its set-up commands must be the ones CI runs."""

from __future__ import annotations

from tests.apptest_helpers import ROOT


def test_ci_runs_the_readme_test_command() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    test_command = next(line for line in ci_lines if "pytest" in line and not line.startswith("#"))
    readme = (ROOT / "README.md").read_text()
    assert f"```bash\n{test_command}\n```" in readme


def test_readme_names_every_setting() -> None:
    from smallchat.config import SETTING_NAMES

    readme = (ROOT / "README.md").read_text()
    missing = [name for name in SETTING_NAMES if f"`{name}`" not in readme]
    assert missing == []
